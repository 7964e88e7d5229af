package io.pullmesh.testkit.registry;

import io.pullmesh.core.Digest;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;

/**
 * Pushes a {@link FakeModel} into a real OCI distribution registry through its upload API, as {@code ollama push}
 * or {@code docker push} would: per blob (layers, then the config) a {@code HEAD} to skip what is already there,
 * {@code POST /v2/<name>/blobs/uploads/} and one monolithic {@code PUT <Location>&digest=<digest>}; then
 * {@code PUT /v2/<name>/manifests/<tag>} with the manifest's own bytes and content type
 * ({@value MediaTypes#MANIFEST_V2}). With credentials, every request carries HTTP Basic authorization.
 *
 * <p>Blocking (the JDK's {@link HttpClient}): call it from a test thread, never from an event loop.
 */
public final class RegistryPusher {
  private static final Duration TIMEOUT = Duration.ofSeconds(60);

  private final URI base;
  private final String authorization;
  private final HttpClient http;

  /**
   * @param baseUrl e.g. {@code http://127.0.0.1:5000}
   * @param username null for an open registry
   * @param password with {@code username}
   */
  public RegistryPusher(String baseUrl, String username, String password) {
    this.base = URI.create(baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl);
    this.authorization = username == null ? null
        : "Basic " + Base64.getEncoder().encodeToString((username + ":" + password).getBytes(StandardCharsets.UTF_8));
    this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).followRedirects(HttpClient.Redirect.NEVER)
        .connectTimeout(Duration.ofSeconds(10)).build();
  }

  /**
   * Uploads every blob of {@code model} and then its manifest under its tag.
   *
   * @return the manifest digest the registry reported ({@code Docker-Content-Digest}); it is checked against
   *     the digest of the bytes sent
   * @throws IllegalStateException when the registry refuses a step (with its status and body)
   */
  public Digest push(FakeModel model) {
    for (FakeBlob blob : model.blobs()) {
      pushBlob(model.repository(), blob);
    }
    URI manifestUri = base.resolve("/v2/" + model.repository() + "/manifests/" + model.tag());
    HttpResponse<String> put = send(request(manifestUri).header("Content-Type", MediaTypes.MANIFEST_V2)
        .PUT(HttpRequest.BodyPublishers.ofByteArray(model.manifestBytes())));
    expect(put, 201, "PUT manifest " + model.reference());
    String reported = put.headers().firstValue("Docker-Content-Digest")
        .orElseThrow(() -> new IllegalStateException("PUT manifest: no Docker-Content-Digest in " + put.headers().map()));
    Digest digest = Digest.parse(reported);
    if (!digest.equals(model.manifestDigest())) {
      throw new IllegalStateException("the registry stored the manifest as " + digest + ", its bytes hash to " + model.manifestDigest());
    }
    return digest;
  }

  /** Uploads one blob into {@code repository} unless the registry already has it there. */
  public void pushBlob(String repository, FakeBlob blob) {
    URI blobUri = base.resolve("/v2/" + repository + "/blobs/" + blob.digest());
    HttpResponse<String> head = send(request(blobUri).method("HEAD", HttpRequest.BodyPublishers.noBody()));
    if (head.statusCode() == 200) {
      return;
    }
    HttpResponse<String> post = send(request(base.resolve("/v2/" + repository + "/blobs/uploads/"))
        .POST(HttpRequest.BodyPublishers.noBody()));
    expect(post, 202, "POST upload for " + blob.digest());
    String location = post.headers().firstValue("Location")
        .orElseThrow(() -> new IllegalStateException("POST upload: no Location in " + post.headers().map()));
    URI upload = base.resolve(location);
    URI put = URI.create(upload + (upload.getRawQuery() == null ? "?" : "&") + "digest=" + blob.digest());
    HttpRequest.BodyPublisher body;
    try {
      body = HttpRequest.BodyPublishers.ofFile(blob.file());
    } catch (FileNotFoundException e) {
      throw new UncheckedIOException(e);
    }
    HttpResponse<String> done = send(request(put).header("Content-Type", "application/octet-stream").PUT(body));
    expect(done, 201, "PUT blob " + blob.digest());
  }

  private HttpRequest.Builder request(URI uri) {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(TIMEOUT);
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    return b;
  }

  private HttpResponse<String> send(HttpRequest.Builder b) {
    HttpRequest req = b.build();
    try {
      return http.send(req, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(req.method() + " " + req.uri() + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted: " + req.method() + " " + req.uri(), e);
    }
  }

  private static void expect(HttpResponse<String> r, int status, String what) {
    if (r.statusCode() != status) {
      throw new IllegalStateException(what + ": expected " + status + ", got " + r.statusCode() + " " + r.body());
    }
  }
}
