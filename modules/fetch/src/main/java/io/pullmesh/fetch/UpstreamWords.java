package io.pullmesh.fetch;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What an upstream said in the body of a refusal, as words for a person: the messages of a registry error
 * ({@code {"errors":[{"code":..,"message":..}]}}), Hugging Face's {@code {"error":".."}}, the {@code <Message>} of an
 * S3-style XML error, or a plain-text body as it is (registry.ollama.ai's 412 is text/plain: "The model you are
 * attempting to pull requires a newer version of Ollama..."). Pure; not for deciding what the refusal means (the status
 * does that), and never for a body that is a page of HTML.
 */
final class UpstreamWords {
  /** Bodies are read up to this many bytes for their words; a longer one is cut there. */
  static final int MAX_BODY = 16 << 10;
  private static final int MAX_WORDS = 4096;
  private static final Pattern XML_MESSAGE = Pattern.compile("<Message>([^<]{1,2000})</Message>");

  private UpstreamWords() {}

  /** @return the words, stripped, at most 4096 characters; null when the body says nothing usable */
  static String of(String contentType, byte[] body) {
    if (body == null || body.length == 0) {
      return null;
    }
    String text = new String(body, 0, Math.min(body.length, MAX_BODY), StandardCharsets.UTF_8).strip();
    if (text.isEmpty()) {
      return null;
    }
    String type = contentType == null ? "" : contentType.toLowerCase(Locale.ROOT);
    String words;
    if (text.startsWith("{")) {
      words = fromJson(text);
    } else if (text.startsWith("<")) {
      Matcher m = XML_MESSAGE.matcher(text);
      words = !type.contains("html") && m.find() ? m.group(1).strip() : null;
    } else {
      words = type.contains("html") ? null : text;
    }
    if (words == null || words.isBlank()) {
      return null;
    }
    return words.length() > MAX_WORDS ? words.substring(0, MAX_WORDS) : words;
  }

  private static String fromJson(String text) {
    JsonObject json;
    try {
      json = new JsonObject(Buffer.buffer(text));
    } catch (RuntimeException e) {
      return text;
    }
    if (json.getValue("errors") instanceof JsonArray errors) {
      List<String> messages = new ArrayList<>();
      for (Object o : errors) {
        if (o instanceof JsonObject e) {
          Object m = e.getValue("message");
          Object c = e.getValue("code");
          if (m instanceof String s && !s.isBlank()) {
            messages.add(s.strip());
          } else if (c instanceof String s && !s.isBlank()) {
            messages.add(s.strip());
          }
        }
      }
      return messages.isEmpty() ? null : String.join("; ", messages);
    }
    for (String key : List.of("error", "message", "detail")) {
      if (json.getValue(key) instanceof String s && !s.isBlank()) {
        return s.strip();
      }
    }
    return null;
  }
}
