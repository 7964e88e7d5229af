package io.pullmesh.proxy;

import io.pullmesh.testkit.client.BlobResult;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.client.PullException;
import io.pullmesh.testkit.client.PullResult;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * An Ollama-like client in its own JVM, for {@link MeshNetnsIT}, which starts one inside each node's network
 * namespace ({@code ip netns exec pm-nK-ID java -cp <test classpath> io.pullmesh.proxy.NetnsPullClient URL}), so
 * client-to-node traffic stays inside that namespace and never crosses the shaped WAN link. Like {@code ollama
 * serve} it is a long-running process: started (and its HTTP client loaded) before anything is timed.
 *
 * <p>Prints {@code ready}, then runs each line {@code pull ID NAME DEST} read from stdin as one pull from URL with
 * Ollama's default part sizes ({@link OllamaLikeClient} checks every blob's SHA-256 as Ollama does). After the
 * timed window it hashes every blob file again itself and prints {@code blob ID <digest> <size> <sha256 of the
 * file>} per blob, and last {@code result ID ok <start epoch ms> <end epoch ms>}, or {@code result ID fail
 * <message>}. Ends at the end of stdin.
 */
public final class NetnsPullClient {
  private NetnsPullClient() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: NetnsPullClient BASE_URL, then lines 'pull ID NAME DEST' on stdin");
      System.exit(2);
    }
    String base = args[0];
    try (OllamaLikeClient client = new OllamaLikeClient(ClientOptions.defaults())) {
      // load the JDK's HTTP client (and its TLS defaults) before the first timed pull, as a running Ollama has
      HttpClient warm = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      HttpResponse<String> health = warm.send(HttpRequest.newBuilder(URI.create(base + "/healthz")).build(),
          HttpResponse.BodyHandlers.ofString());
      System.out.println("ready " + health.statusCode());
      System.out.flush();
      BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      String line;
      while ((line = in.readLine()) != null) {
        String[] f = line.strip().split(" ");
        if (f.length != 4 || !f[0].equals("pull")) {
          System.out.println("result ? fail not 'pull ID NAME DEST': " + line);
          System.out.flush();
          continue;
        }
        pull(client, base, f[1], f[2], Path.of(f[3]));
        System.out.flush();
      }
    }
  }

  private static void pull(OllamaLikeClient client, String base, String id, String name, Path dest) throws Exception {
    long start = System.currentTimeMillis();
    PullResult r;
    try {
      r = client.pull(base, name, dest);
    } catch (PullException e) {
      System.out.println("result " + id + " fail " + String.valueOf(e.getMessage()).replace('\n', ' '));
      return;
    }
    long end = System.currentTimeMillis();
    for (BlobResult b : r.blobs()) {
      Path f = dest.resolve("blobs").resolve("sha256-" + b.digest().hex());
      System.out.println("blob " + id + " " + b.digest() + " " + Files.size(f) + " " + MirrorPullTest.sha256(f));
    }
    System.out.println("result " + id + " ok " + start + " " + end);
  }
}
