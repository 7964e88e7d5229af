package io.pullmesh.testkit.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.Digest;
import io.pullmesh.testkit.ManualClock;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class UrlSignerTest {
  private static final Digest D = Digest.ofHex("ab" + "0".repeat(62));
  private final ManualClock clock = ManualClock.fixed();
  private final UrlSigner signer = new UrlSigner(clock, Duration.ofHours(24));

  @Test
  void urlHasR2Shape() {
    String url = signer.signedPathAndQuery(D);
    assertTrue(url.startsWith("/ollama/docker/registry/v2/blobs/sha256/ab/" + D.hex() + "/data?X-Amz-Algorithm=AWS4-HMAC-SHA256&"), url);
    assertTrue(url.contains("&X-Amz-Date=20250101T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature="), url);
    assertEquals(D, UrlSigner.digestOf(UrlSigner.path(D)));
    assertNull(UrlSigner.digestOf("/ollama/docker/registry/v2/blobs/sha256/cd/" + D.hex() + "/data"), "prefix must match");
  }

  @Test
  void validUntilExpiryThenExpired() {
    String url = signer.signedPathAndQuery(D);
    assertEquals(UrlSigner.Verdict.VALID, verify(url));
    clock.advance(Duration.ofHours(24));
    assertEquals(UrlSigner.Verdict.VALID, verify(url));
    clock.advance(Duration.ofSeconds(1));
    assertEquals(UrlSigner.Verdict.EXPIRED, verify(url));
  }

  @Test
  void tamperingAndRotation() {
    String url = signer.signedPathAndQuery(D);
    String otherBlob = url.replace("/ab/" + D.hex(), "/ab/" + "ab" + "1".repeat(62));
    assertEquals(UrlSigner.Verdict.BAD_SIGNATURE, verify(otherBlob));
    assertEquals(UrlSigner.Verdict.BAD_SIGNATURE, verify(url.replace("X-Amz-Expires=86400", "X-Amz-Expires=999999")));
    assertEquals(UrlSigner.Verdict.MISSING, verify(UrlSigner.path(D)));
    signer.rotate();
    assertEquals(UrlSigner.Verdict.EXPIRED, verify(url));
    assertEquals(UrlSigner.Verdict.VALID, verify(signer.signedPathAndQuery(D)));
  }

  private UrlSigner.Verdict verify(String pathAndQuery) {
    int q = pathAndQuery.indexOf('?');
    String path = q < 0 ? pathAndQuery : pathAndQuery.substring(0, q);
    Map<String, String> params = new HashMap<>();
    if (q >= 0) {
      for (String kv : pathAndQuery.substring(q + 1).split("&")) {
        int eq = kv.indexOf('=');
        params.put(kv.substring(0, eq), URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8));
      }
    }
    return signer.verify(path, params);
  }
}
