package io.pullmesh.testkit.http;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * A response exactly as it came off the wire.
 *
 * @param status the status code
 * @param headers header lines in order, names as sent
 * @param body the body bytes received (de-chunked when chunked), possibly fewer than announced
 * @param chunked whether {@code Transfer-Encoding: chunked} was used
 * @param complete whether the whole body arrived (false when the server closed early or the read timed out)
 * @param timedOut whether reading stopped because nothing arrived within the read timeout
 */
public record RawResponse(
    int status, List<Map.Entry<String, String>> headers, byte[] body, boolean chunked, boolean complete,
    boolean timedOut) {

  /** The first value of a header, case-insensitively. */
  public Optional<String> header(String name) {
    for (Map.Entry<String, String> h : headers) {
      if (h.getKey().equalsIgnoreCase(name)) {
        return Optional.of(h.getValue());
      }
    }
    return Optional.empty();
  }

  /** All values of a header, case-insensitively. */
  public List<String> headers(String name) {
    List<String> values = new ArrayList<>();
    for (Map.Entry<String, String> h : headers) {
      if (h.getKey().equalsIgnoreCase(name)) {
        values.add(h.getValue());
      }
    }
    return values;
  }

  public boolean hasHeader(String name) {
    return header(name).isPresent();
  }

  public String bodyText() {
    return new String(body, StandardCharsets.UTF_8);
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder("HTTP ").append(status);
    for (Map.Entry<String, String> h : headers) {
      b.append("\n").append(h.getKey().toLowerCase(Locale.ROOT)).append(": ").append(h.getValue());
    }
    return b.append("\n(").append(body.length).append(" body bytes").append(chunked ? ", chunked" : "")
        .append(complete ? "" : ", incomplete").append(timedOut ? ", timed out" : "").append(')').toString();
  }
}
