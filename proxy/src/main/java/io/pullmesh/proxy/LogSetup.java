package io.pullmesh.proxy;

import java.io.PrintStream;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Map;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * One line per log record on stderr: time, level, logger, message; or ({@code --log-format json}) one JSON object
 * per line, for Loki or Elasticsearch: {@code timestamp}, {@code level}, {@code logger}, {@code message}, and the
 * record's fields when it carries them (a record whose one parameter is a {@code Map<String, ?>}, as the pull log's
 * are: {@code model}, {@code client}, {@code bytes}, ...). Libraries stay at WARNING unless debugging.
 */
public final class LogSetup {
  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

  /** How log lines are written. */
  public enum Format { TEXT, JSON }

  private static volatile Format format = Format.TEXT;

  /** JUL holds loggers weakly: a configured logger nobody references can be collected and lose its settings. */
  private static final java.util.List<Logger> CONFIGURED = new java.util.concurrent.CopyOnWriteArrayList<>();

  private LogSetup() {}

  private static Logger keep(String name) {
    Logger l = Logger.getLogger(name);
    CONFIGURED.add(l);
    return l;
  }

  /** Text lines at {@code level}. */
  public static void configure(Level level) {
    configure(level, Format.TEXT);
  }

  public static void configure(Level level, Format lines) {
    Logger root = Logger.getLogger("");
    for (Handler h : root.getHandlers()) {
      root.removeHandler(h);
    }
    ConsoleHandler console = new ConsoleHandler();
    console.setLevel(Level.ALL);
    console.setFormatter(lines == Format.JSON ? new JsonFormatter() : new LineFormatter());
    format = lines;
    root.addHandler(console);
    root.setLevel(Level.WARNING);
    keep("io.pullmesh").setLevel(level);
    // vertx-micrometer registers per-server gauges once per server instance; Micrometer warns about the duplicates
    keep("io.micrometer.common.util.internal.logging").setLevel(Level.SEVERE);
    // Vert.x logs ERROR, with no way to intercept it, when a client hangs up during a sendfile of a large blob;
    // Ollama does that after the headers of every URL-resolution GET. Only that case is demoted to debug.
    keep("io.vertx.core.net.impl.VertxConnection").setFilter(LogSetup::notAClientHangUp);
    if (level.intValue() <= Level.FINE.intValue()) {
      keep("io.vertx").setLevel(Level.INFO);
    }
  }

  /** False (drop, logging it at debug instead) for a record about a client that closed its connection. */
  static boolean notAClientHangUp(LogRecord r) {
    Throwable t = r.getThrown();
    if (t == null) {
      return true;
    }
    String m = String.valueOf(t.getMessage());
    boolean hangUp = t instanceof java.nio.channels.ClosedChannelException
        || (t instanceof java.io.IOException && (m.contains("Broken pipe") || m.contains("Connection reset")));
    if (hangUp) {
      Logger.getLogger("io.pullmesh.proxy.client").fine(() -> "client closed its connection during a transfer: " + t);
    }
    return !hangUp;
  }

  static final class LineFormatter extends Formatter {
    @Override
    public String format(LogRecord r) {
      String name = r.getLoggerName() == null ? "" : r.getLoggerName();
      String shortName = name.substring(name.lastIndexOf('.') + 1);
      StringBuilder b = new StringBuilder(128)
          .append(TIME.format(Instant.ofEpochMilli(r.getMillis()))).append(' ')
          .append(label(r.getLevel())).append(' ')
          .append(shortName).append(": ")
          .append(message(this, r)).append('\n');
      String trace = stackTrace(r);
      if (trace != null) {
        b.append(trace);
      }
      return b.toString();
    }
  }

  /** One JSON object per line: timestamp, level, logger, message, the record's fields, and error and stack_trace. */
  static final class JsonFormatter extends Formatter {
    @Override
    public String format(LogRecord r) {
      return json(Instant.ofEpochMilli(r.getMillis()), label(r.getLevel()).strip(), r.getLoggerName() == null ? "" : r.getLoggerName(),
          message(this, r), fields(r), r.getThrown(), stackTrace(r)) + "\n";
    }
  }

  /** The message: the record's own when it carries fields (it is the whole line), else formatted with its parameters. */
  private static String message(Formatter f, LogRecord r) {
    return fields(r).isEmpty() ? f.formatMessage(r) : String.valueOf(r.getMessage());
  }

  /** The fields a record carries: its one parameter, when that is a {@code Map<String, ?>}; else none. */
  static Map<?, ?> fields(LogRecord r) {
    Object[] p = r.getParameters();
    return p != null && p.length == 1 && p[0] instanceof Map<?, ?> m ? m : Map.of();
  }

  /** The stack trace to show: for an ERROR, or for anything when debugging; else null. */
  private static String stackTrace(LogRecord r) {
    if (r.getThrown() == null || (r.getLevel().intValue() < Level.SEVERE.intValue() && !Logger.getLogger("io.pullmesh").isLoggable(Level.FINE))) {
      return null;
    }
    java.io.StringWriter w = new java.io.StringWriter();
    r.getThrown().printStackTrace(new java.io.PrintWriter(w));
    return w.toString();
  }

  static String json(Instant time, String level, String logger, String message, Map<?, ?> fields, Throwable thrown, String stackTrace) {
    StringBuilder b = new StringBuilder(256).append('{');
    member(b, "timestamp", TIME.format(time));
    member(b, "level", level);
    member(b, "logger", logger);
    member(b, "message", message);
    fields.forEach((k, v) -> member(b, String.valueOf(k), v));
    if (thrown != null) {
      member(b, "error", thrown.toString());
    }
    if (stackTrace != null) {
      member(b, "stack_trace", stackTrace);
    }
    return b.append('}').toString();
  }

  private static void member(StringBuilder b, String name, Object value) {
    if (b.length() > 1) {
      b.append(',');
    }
    b.append(io.pullmesh.core.RegistryException.jsonString(name));
    b.append(':');
    if (value == null) {
      b.append("null");
    } else if (value instanceof Boolean || (value instanceof Number n && Double.isFinite(n.doubleValue()))) {
      b.append(value);
    } else {
      b.append(io.pullmesh.core.RegistryException.jsonString(value.toString()));
    }
  }

  private static String label(Level l) {
    if (l.intValue() >= Level.SEVERE.intValue()) {
      return "ERROR";
    }
    if (l.intValue() >= Level.WARNING.intValue()) {
      return "WARN ";
    }
    if (l.intValue() >= Level.INFO.intValue()) {
      return "INFO ";
    }
    return "DEBUG";
  }

  /** A line for stdout (the startup lines): as it is, or under {@code --log-format json} as an INFO log line. */
  public static void print(PrintStream out, String line) {
    out.println(format == Format.JSON ? json(Instant.now(), "INFO", "io.pullmesh.proxy", line, Map.of(), null, null) : line);
    out.flush();
  }

  /** A warning for stderr: {@code <prefix>warning: <text>}, or under {@code --log-format json} a WARN log line. */
  public static void warning(PrintStream err, String prefix, String text) {
    message(err, Level.WARNING, prefix, text);
  }

  /**
   * A message for stderr ({@code pullmesh: shutting down}, why it cannot start): {@code <prefix><text>} (a warning
   * {@code <prefix>warning: <text>}), or under {@code --log-format json} a log line at {@code level}.
   */
  public static void message(PrintStream err, Level level, String prefix, String text) {
    err.println(format == Format.JSON ? json(Instant.now(), label(level).strip(), "io.pullmesh.proxy", text, Map.of(), null, null)
        : prefix + (level == Level.WARNING ? "warning: " : "") + text);
    err.flush();
  }
}
