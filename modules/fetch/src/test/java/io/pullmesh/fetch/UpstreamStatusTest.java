package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class UpstreamStatusTest {
  @Test
  void aRefusalKeepsTheUpstreamsWordsAndSaysWhatToDo() {
    UpstreamException e = UpstreamStatus.of(412, "manifest library/x:1 at registry.ollama.ai", "requires a newer version of Ollama");
    assertEquals(UpstreamException.Kind.FATAL, e.kind());
    assertEquals(412, e.status());
    assertEquals("requires a newer version of Ollama", e.words());
    assertEquals("manifest library/x:1 at registry.ollama.ai: upstream answered 412: requires a newer version of Ollama", e.getMessage());
  }

  @Test
  void eachStatusMeansItsKind() {
    assertEquals(UpstreamException.Kind.NOT_FOUND, UpstreamStatus.of(404, "m", null).kind());
    assertEquals(UpstreamException.Kind.DENIED, UpstreamStatus.of(401, "m", null).kind());
    assertEquals(UpstreamException.Kind.DENIED, UpstreamStatus.of(403, "m", null).kind());
    assertEquals(UpstreamException.Kind.RETRYABLE, UpstreamStatus.of(429, "m", null).kind());
    assertEquals(UpstreamException.Kind.RETRYABLE, UpstreamStatus.of(503, "m", null).kind());
    assertEquals(UpstreamException.Kind.FATAL, UpstreamStatus.of(418, "m", null).kind());
  }

  @Test
  void aRequestThatCameBackToThisNodeIsNotRetried() {
    UpstreamException e = UpstreamStatus.of(508, "blob 1234", null);
    assertEquals(UpstreamException.Kind.FATAL, e.kind());
    assertTrue(e.getMessage().contains("came back to this node"), e.getMessage());
  }

  @Test
  void aRedirectedUrlThatIsRefusedHasExpiredAndIsLocatedAgain() {
    for (int s : new int[] {400, 401, 403, 404, 410}) {
      UpstreamException e = UpstreamStatus.ofPiece(s, true, "cdn.example", 100, "blob 1234 bytes 0-9");
      assertEquals(UpstreamException.Kind.URL_REFUSED, e.kind(), "status " + s);
      assertEquals("blob 1234 bytes 0-9: cdn.example refused the blob URL (" + s + "), it has probably expired", e.getMessage());
    }
  }

  @Test
  void theRegistrysOwnBlobUrlRefusedIsTheRegistrysAnswer() {
    UpstreamException e = UpstreamStatus.ofPiece(404, false, "registry.example", 100, "blob 1234");
    assertEquals(UpstreamException.Kind.NOT_FOUND, e.kind());
    assertEquals("blob 1234 at registry.example: not found upstream", e.getMessage());
    assertNull(e.words());
  }

  @Test
  void aRangePastTheEndMeansTheBlobIsNotTheSizeItWasLocatedAt() {
    UpstreamException e = UpstreamStatus.ofPiece(416, true, "cdn.example", 100, "blob 1234");
    assertEquals(UpstreamException.Kind.FATAL, e.kind());
    assertTrue(e.getMessage().endsWith("the blob is not 100 bytes"), e.getMessage());
  }
}
