package io.pullmesh.proxy;

import io.pullmesh.core.Digest;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Turns requests into accesses. One Ollama pull of a blob is a HEAD, a resolve GET and up to 16 ranged GETs; the
 * eviction policy should see one access, or a 16-part blob would look 8 times as popular as a 2-part one. An
 * access is a (client, blob) pair not seen within the window. Bounded; thread-safe.
 */
final class AccessLog {
  private static final int MAX_ENTRIES = 10_000;
  private final long windowMillis;
  private final Map<String, Long> seen = new LinkedHashMap<>(256, 0.75f, true) {
    private static final long serialVersionUID = 1L;

    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
      return size() > MAX_ENTRIES;
    }
  };

  AccessLog(long windowMillis) {
    this.windowMillis = windowMillis;
  }

  /** Whether this request is a new access of {@code blob} by {@code client} at {@code nowMillis}. */
  synchronized boolean isNewAccess(String client, Digest blob, long nowMillis) {
    String key = client + " " + blob.hex();
    Long last = seen.get(key);
    seen.put(key, nowMillis);
    return last == null || nowMillis - last >= windowMillis;
  }
}
