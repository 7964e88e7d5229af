package io.pullmesh.proxy;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Keeps what one java.util.logging logger publishes at INFO and above while open, for tests that assert on log lines
 * (the pull log). Opening lowers the logger to INFO, since other tests in the same JVM may have configured logging
 * quieter ({@link LogSetup}); closing removes the capture and puts the level back. Thread-safe. Not for silencing or
 * redirecting logs.
 */
final class LogCapture implements AutoCloseable {
  private final Logger logger;
  private final Level before;
  private final List<LogRecord> records = new CopyOnWriteArrayList<>();
  private final Handler handler = new Handler() {
    @Override
    public void publish(LogRecord r) {
      records.add(r);
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  };

  private LogCapture(String loggerName) {
    logger = Logger.getLogger(loggerName);
    before = logger.getLevel();
    logger.addHandler(handler);
    logger.setLevel(Level.INFO);
  }

  /** Starts capturing what the logger {@code loggerName} publishes. */
  static LogCapture of(String loggerName) {
    return new LogCapture(loggerName);
  }

  /** The records published so far, oldest first. */
  List<LogRecord> records() {
    return List.copyOf(records);
  }

  /** The messages (unformatted) of the records published so far, oldest first. */
  List<String> messages() {
    return records.stream().map(LogRecord::getMessage).toList();
  }

  @Override
  public void close() {
    logger.removeHandler(handler);
    logger.setLevel(before);
  }
}
