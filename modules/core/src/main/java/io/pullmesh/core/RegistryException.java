package io.pullmesh.core;

/**
 * A failure a client should see as a registry error: an HTTP status, a code and a message that says what
 * happened (and where useful what to do). Every {@code Future} in pullmesh that can fail in a way a client
 * should know about fails with one of these.
 */
public class RegistryException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final ErrorCode code;
  private final int status;

  public RegistryException(ErrorCode code, String message) {
    this(code, code.status(), message, null);
  }

  public RegistryException(ErrorCode code, String message, Throwable cause) {
    this(code, code.status(), message, cause);
  }

  public RegistryException(ErrorCode code, int status, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
    this.status = status;
  }

  public ErrorCode code() {
    return code;
  }

  public int status() {
    return status;
  }

  /** {@code {"errors":[{"code":"...","message":"..."}]}}, the distribution spec's error body. */
  public String toJson() {
    return errorJson(code, getMessage());
  }

  public static String errorJson(ErrorCode code, String message) {
    return "{\"errors\":[{\"code\":\"" + code.name() + "\",\"message\":" + jsonString(message) + "}]}";
  }

  /** A JSON string literal; escapes quotes, backslashes, control characters (DEL too) and the JS line separators. */
  public static String jsonString(String s) {
    if (s == null) {
      return "null";
    }
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20 || c == 0x7f || c == 0x2028 || c == 0x2029) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }

  /** Turns anything into a registry error: a {@code RegistryException} stays as it is. */
  public static RegistryException of(Throwable t) {
    if (t instanceof RegistryException r) {
      return r;
    }
    if (t.getCause() instanceof RegistryException r) {
      return r;
    }
    return new RegistryException(ErrorCode.INTERNAL_ERROR, String.valueOf(t), t);
  }
}
