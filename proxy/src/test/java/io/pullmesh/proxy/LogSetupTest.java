package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.Digest;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.Test;

class LogSetupTest {
  private static LogRecord error(Throwable t) {
    LogRecord r = new LogRecord(Level.SEVERE, "x");
    r.setThrown(t);
    return r;
  }

  @Test
  void onlyClientHangUpsAreDemoted() {
    assertFalse(LogSetup.notAClientHangUp(error(new IOException("Broken pipe"))));
    assertFalse(LogSetup.notAClientHangUp(error(new IOException("Connection reset by peer"))));
    assertFalse(LogSetup.notAClientHangUp(error(new ClosedChannelException())));
    assertTrue(LogSetup.notAClientHangUp(error(new IOException("No space left on device"))));
    assertTrue(LogSetup.notAClientHangUp(error(new IllegalStateException("Broken pipe"))));
    assertTrue(LogSetup.notAClientHangUp(new LogRecord(Level.SEVERE, "no exception")));
  }

  /** A pull's log record, as PullLog writes it to its logger. */
  private static LogRecord pullRecord() {
    List<LogRecord> records;
    try (LogCapture pulls = LogCapture.of("io.pullmesh.pulls")) {
      Digest a = Digest.ofHex("a".repeat(64));
      PullLog log = new PullLog(Clock.fixed(Instant.parse("2026-01-02T03:04:05Z"), ZoneOffset.UTC));
      log.manifestServed("10.0.0.7", "library/qwen2.5:7b", Map.of(a, 100L));
      log.blobStarted("10.0.0.7", a);
      log.blobServed("10.0.0.7", a, 100, "miss");
      records = pulls.records();
    }
    assertEquals(1, records.size(), records.toString());
    return records.get(0);
  }

  @Test
  void aPullLineIsTheSameTextAndInJsonItsFieldsAreJsonFields() {
    LogRecord r = pullRecord();
    String text = "pull model=library/qwen2.5:7b client=10.0.0.7 result=complete bytes=100 size=100 wire=100 cache=0 inflight=100 "
        + "started_upstream=1 blobs=1/1 duration_ms=0 (100 B)";
    assertTrue(new LogSetup.LineFormatter().format(r).endsWith(" INFO  pulls: " + text + "\n"), new LogSetup.LineFormatter().format(r));

    String line = new LogSetup.JsonFormatter().format(r);
    assertTrue(line.endsWith("}\n") && line.indexOf('\n') == line.length() - 1, "one line: " + line);
    JsonObject json = new JsonObject(line);
    assertEquals("INFO", json.getString("level"));
    assertEquals("io.pullmesh.pulls", json.getString("logger"));
    assertEquals(text, json.getString("message"));
    assertTrue(json.getString("timestamp").matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z"), json.getString("timestamp"));
    assertEquals("library/qwen2.5:7b", json.getString("model"));
    assertEquals("10.0.0.7", json.getString("client"));
    assertEquals("complete", json.getString("result"));
    assertEquals(100L, json.getLong("bytes"), "numbers are JSON numbers");
    assertInstanceOf(Number.class, json.getValue("duration_ms"));
    assertEquals(1, json.getInteger("started_upstream"));
    assertEquals("1/1", json.getString("blobs"));
    assertEquals(List.of("timestamp", "level", "logger", "message", "model", "client", "result", "bytes", "size", "wire", "cache",
        "inflight", "started_upstream", "blobs", "duration_ms"), List.copyOf(json.fieldNames()));
  }

  @Test
  void jsonLinesEscapeWhatTheyCarryAndNameTheError() {
    LogRecord r = new LogRecord(Level.SEVERE, "a \"quoted\" {0}\nsecond line\ttab \u0001 back\\slash");
    r.setLoggerName("io.pullmesh.proxy.BlobHandler");
    r.setParameters(new Object[] {"value"});
    r.setThrown(new IOException("disk \"gone\""));
    String line = new LogSetup.JsonFormatter().format(r);
    assertEquals(1, line.split("\n", -1).length - 1, "a single line: " + line);
    JsonObject json = new JsonObject(line);
    assertEquals("ERROR", json.getString("level"));
    assertEquals("a \"quoted\" value\nsecond line\ttab \u0001 back\\slash", json.getString("message"), "parameters are formatted in");
    assertEquals("java.io.IOException: disk \"gone\"", json.getString("error"));
    assertTrue(json.getString("stack_trace").startsWith("java.io.IOException: disk \"gone\"\n\tat "), json.getString("stack_trace"));

    LogRecord warn = new LogRecord(Level.WARNING, "no fields");
    warn.setLoggerName("io.pullmesh.proxy.Scrubber");
    warn.setThrown(new IOException("x"));
    JsonObject w = new JsonObject(new LogSetup.JsonFormatter().format(warn));
    assertEquals("WARN", w.getString("level"));
    assertEquals("java.io.IOException: x", w.getString("error"));
    assertFalse(w.containsKey("stack_trace"), "a warning's stack trace only when debugging, as in text");
  }

  @Test
  void theStartupLinesAndWarningsFollowTheFormat() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    try {
      LogSetup.configure(Level.INFO, LogSetup.Format.JSON);
      LogSetup.print(out, "pullmesh proxy listening on http://0.0.0.0:9200");
      LogSetup.warning(out, "pullmesh: ", "ignoring environment variable PULLMESH_X");
      String[] lines = bytes.toString(StandardCharsets.UTF_8).split("\n");
      assertEquals(2, lines.length);
      assertEquals("pullmesh proxy listening on http://0.0.0.0:9200", new JsonObject(lines[0]).getString("message"));
      assertEquals("INFO", new JsonObject(lines[0]).getString("level"));
      assertEquals("WARN", new JsonObject(lines[1]).getString("level"));
      bytes.reset();
      LogSetup.configure(Level.INFO, LogSetup.Format.TEXT);
      LogSetup.print(out, "listening");
      LogSetup.warning(out, "pullmesh: ", "careful");
      assertEquals("listening\npullmesh: warning: careful\n", bytes.toString(StandardCharsets.UTF_8));
    } finally {
      LogSetup.configure(Level.INFO);
    }
  }

  @Test
  void theFormatIsAnOptionLikeAnyOther() {
    assertEquals(LogSetup.Format.TEXT, ((ProxyConfig.Run) ProxyConfig.parse(new String[0], Map.of())).config().logFormat());
    assertEquals(LogSetup.Format.JSON, ((ProxyConfig.Run) ProxyConfig.parse(new String[] {"--log-format", "json"}, Map.of())).config().logFormat());
    assertEquals(LogSetup.Format.JSON, ((ProxyConfig.Run) ProxyConfig.parse(new String[0], Map.of("PULLMESH_LOG_FORMAT", "JSON"))).config()
        .logFormat());
    ConfigException e = org.junit.jupiter.api.Assertions.assertThrows(ConfigException.class,
        () -> ProxyConfig.parse(new String[] {"--log-format=yaml"}, Map.of()));
    assertEquals("--log-format: 'yaml' is not valid (expected text or json)", e.getMessage());
  }
}
