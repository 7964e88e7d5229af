package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class UpstreamWordsTest {
  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void aPlainTextRefusalIsKeptWordForWord() {
    String words = "The model you are attempting to pull requires a newer version of Ollama.\n\nPlease download the latest version at:\n\n\thttps://ollama.com/download";
    assertEquals(words, UpstreamWords.of("text/plain; charset=utf-8", b(words + "\n")));
  }

  @Test
  void aRegistryErrorGivesItsMessages() {
    assertEquals("manifest unknown; second", UpstreamWords.of("application/json",
        b("{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"},{\"code\":\"X\",\"message\":\"second\"}]}")));
    assertEquals("DENIED", UpstreamWords.of("application/json", b("{\"errors\":[{\"code\":\"DENIED\"}]}")));
  }

  @Test
  void aHuggingFaceErrorGivesItsErrorField() {
    assertEquals("You have been rate-limited; pass a HF_TOKEN", UpstreamWords.of("application/json",
        b("{\"error\":\"You have been rate-limited; pass a HF_TOKEN\"}")));
  }

  @Test
  void anS3XmlErrorGivesItsMessageAndAnHtmlPageGivesNothing() {
    assertEquals("Request has expired", UpstreamWords.of("application/xml",
        b("<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")));
    assertNull(UpstreamWords.of("text/html", b("<html><body><h1>403 Forbidden</h1></body></html>")));
    assertNull(UpstreamWords.of("text/plain", b("  \n")));
    assertNull(UpstreamWords.of("text/plain", null));
  }

  @Test
  void longWordsAreCutToABound() {
    assertEquals(4096, UpstreamWords.of("text/plain", b("x".repeat(20_000))).length());
  }
}
