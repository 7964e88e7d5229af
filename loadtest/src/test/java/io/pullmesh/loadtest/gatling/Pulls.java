package io.pullmesh.loadtest.gatling;

import static io.gatling.javaapi.core.CoreDsl.bodyLength;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.regex;
import static io.gatling.javaapi.http.HttpDsl.header;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;

import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import io.gatling.javaapi.http.HttpRequestActionBuilder;
import io.pullmesh.loadtest.LoadTarget;
import java.util.ArrayList;
import java.util.List;

/**
 * The requests of an Ollama pull, as Gatling chains: the manifest, then for each blob its size (HEAD, which must
 * carry Content-Length) and, for blobs of 1 MiB or more, 16 ranged GETs run at once on separate connections (as
 * Ollama's downloader does), each checked for 206, its Content-Range and its Content-Length (a body shorter than
 * that fails as a premature close; checking the body itself would make Gatling hold every body in memory); small
 * blobs in one GET, checked for their length.
 * (Ollama also sends one GET without Range to resolve a blob's URL and drops it after the headers; Gatling cannot
 * hang up mid-body, so that request is left out rather than made to download the whole blob once more.)
 */
final class Pulls {
  private Pulls() {}

  static final long BIG = 1 << 20;

  /** One virtual user is one Ollama client: its own connections (no sharing), up to 16 at once to the proxy. */
  static HttpProtocolBuilder protocol(LoadTarget target, int parts) {
    return http.baseUrl(target.baseUrl()).maxConnectionsPerHost(parts).disableWarmUp().disableCaching()
        .disableFollowRedirect().userAgentHeader("ollama/0.5.7 (gatling)");
  }

  static ChainBuilder pull(LoadTarget.Model m, int parts) {
    ChainBuilder c = exec(http("manifest").get(m.manifestPath()).header("Accept", "application/vnd.docker.distribution.manifest.v2+json")
        .check(status().is(200)));
    for (LoadTarget.Blob b : m.blobs()) {
      String path = m.blobPath(b);
      if (b.size() < BIG) {
        c = c.exec(http("small blob").get(path).check(status().is(200), bodyLength().is((int) b.size())));
        continue;
      }
      List<HttpRequestActionBuilder> ranged = new ArrayList<>();
      long part = (b.size() + parts - 1) / parts;
      for (long first = 0; first < b.size(); first += part) {
        long last = Math.min(b.size(), first + part) - 1;
        ranged.add(http("part").get(path).header("Range", "bytes=" + first + "-" + last)
            .check(status().is(206), header("Content-Range").is("bytes " + first + "-" + last + "/" + b.size()),
                header("Content-Length").is(Long.toString(last - first + 1)))); // a body check would make Gatling keep every body
      }
      c = c.exec(http("head").head(path).check(status().is(200), header("Content-Length").is(Long.toString(b.size())))
          .resources(ranged.toArray(new HttpRequestActionBuilder[0])));
    }
    return c;
  }

  /** How many times the model's bytes upstream may carry: {@code -DupstreamFactor}, default 1.02. */
  static double upstreamFactor() {
    String v = System.getProperty("upstreamFactor");
    return v == null || v.isBlank() ? 1.02 : Double.parseDouble(v.strip());
  }

  /**
   * A request to the proxy's /metrics that fails (and so fails the run's "no failed requests" assertion) when the
   * blob bytes it fetched from upstream exceed {@code maxBytes}.
   */
  static ChainBuilder upstreamBlobBytesAtMost(double maxBytes) {
    return exec(http("upstream blob bytes <= " + (long) maxBytes).get("/metrics").check(status().is(200),
        regex("pullmesh_upstream_bytes_total\\{[^}]*kind=\"blob\"[^}]*\\} (\\S+)").find().transform(Double::parseDouble).lte(maxBytes)));
  }

  /** As above for the number of upstream requests of one kind (e.g. manifest). */
  static ChainBuilder upstreamRequestsAtMost(String kind, double max) {
    return exec(http("upstream " + kind + " requests <= " + (long) max).get("/metrics").check(status().is(200),
        regex("pullmesh_upstream_requests_total\\{[^}]*kind=\"" + kind + "\"[^}]*status=\"200\"[^}]*\\} (\\S+)").find()
            .transform(Double::parseDouble).lte(max)));
  }
}
