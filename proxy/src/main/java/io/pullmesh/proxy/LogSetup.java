package io.pullmesh.proxy;

import java.io.PrintStream;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** One line per log record on stderr: time, level, logger, message. Libraries stay at WARNING unless debugging. */
public final class LogSetup {
  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

  /** JUL holds loggers weakly: a configured logger nobody references can be collected and lose its settings. */
  private static final java.util.List<Logger> CONFIGURED = new java.util.concurrent.CopyOnWriteArrayList<>();

  private LogSetup() {}

  private static Logger keep(String name) {
    Logger l = Logger.getLogger(name);
    CONFIGURED.add(l);
    return l;
  }

  public static void configure(Level level) {
    Logger root = Logger.getLogger("");
    for (Handler h : root.getHandlers()) {
      root.removeHandler(h);
    }
    ConsoleHandler console = new ConsoleHandler();
    console.setLevel(Level.ALL);
    console.setFormatter(new LineFormatter());
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
          .append(formatMessage(r)).append('\n');
      if (r.getThrown() != null && (r.getLevel().intValue() >= Level.SEVERE.intValue() || Logger.getLogger("io.pullmesh").isLoggable(Level.FINE))) {
        java.io.StringWriter w = new java.io.StringWriter();
        r.getThrown().printStackTrace(new java.io.PrintWriter(w));
        b.append(w);
      }
      return b.toString();
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
  }

  public static void print(PrintStream out, String line) {
    out.println(line);
    out.flush();
  }
}
