package io.pullmesh.proxy.cli;

import java.io.PrintStream;
import java.util.function.LongSupplier;

/**
 * A progress bar on stderr: percentage, bytes done of total, rate and time left. On a terminal one line is redrawn
 * in place ({@code \r}); otherwise (a log file, a CI job) a plain line is printed every few seconds, so the output
 * stays readable. Lines that should stay ({@link #println}) are printed above the bar.
 */
public final class ProgressDisplay {
  private static final int BAR = 24;

  private final PrintStream err;
  private final boolean terminal;
  private final LongSupplier nanos;
  private final long plainEveryNanos;
  private long lastPlain;
  private boolean plainPrinted;
  private int drawn;
  private long firstNanos = -1;
  private long firstDone;

  /**
   * @param terminal whether stderr is a terminal (redraw in place) or not (periodic lines)
   * @param plainEveryNanos how often a plain line is printed when not on a terminal
   */
  public ProgressDisplay(PrintStream err, boolean terminal, LongSupplier nanos, long plainEveryNanos) {
    this.err = err;
    this.terminal = terminal;
    this.nanos = nanos;
    this.plainEveryNanos = plainEveryNanos;
  }

  /**
   * Shows the progress now (on a terminal) or when a plain line is due.
   *
   * @param total 0 when not known yet
   * @param serverRate the rate the server measured, 0 when it has none (then the average seen here is shown)
   */
  public void update(String label, long done, long total, long serverRate) {
    long now = nanos.getAsLong();
    if (firstNanos < 0) {
      firstNanos = now;
      firstDone = done;
    }
    long rate = serverRate;
    if (rate <= 0 && now - firstNanos > 500_000_000L && done > firstDone) {
      rate = (done - firstDone) * 1_000_000_000L / (now - firstNanos);
    }
    String line = line(label, done, total, rate);
    if (terminal) {
      String pad = " ".repeat(Math.max(0, drawn - line.length()));
      err.print("\r" + line + pad);
      err.flush();
      drawn = line.length();
    } else if (!plainPrinted || now - lastPlain >= plainEveryNanos) {
      err.println(line);
      err.flush();
      plainPrinted = true;
      lastPlain = now;
    }
  }

  /** Shows the final state: on a terminal the bar stays, with a line break after it; otherwise one last line. */
  public void done(String label, long done, long total, long serverRate) {
    if (terminal) {
      update(label, done, total, serverRate);
      err.println();
      err.flush();
      drawn = 0;
    } else {
      plainPrinted = false;
      update(label, done, total, serverRate);
    }
  }

  /** Prints a line that stays, above the bar. */
  public void println(String text) {
    clear();
    err.println(text);
    err.flush();
  }

  /** Erases the bar (on a terminal), leaving the cursor at the start of an empty line. */
  public void clear() {
    if (terminal && drawn > 0) {
      err.print("\r" + " ".repeat(drawn) + "\r");
      err.flush();
      drawn = 0;
    }
  }

  /** {@code name  [=====>      ]  45%  1.4 MiB / 3.0 MiB  2.1 MiB/s  ETA 1s}. */
  static String line(String label, long done, long total, long rate) {
    StringBuilder b = new StringBuilder(label).append("  [");
    int filled = total > 0 ? (int) Math.min(BAR, done * BAR / total) : 0;
    for (int i = 0; i < BAR; i++) {
      b.append(i < filled ? '=' : i == filled && total > 0 && done < total ? '>' : ' ');
    }
    b.append("]  ");
    if (total > 0) {
      b.append(String.format("%3d%%", Math.min(100, done * 100 / total))).append("  ").append(Human.size(done)).append(" / ")
          .append(Human.size(total));
    } else {
      b.append(" --%  ").append(Human.size(done)).append(" / ?");
    }
    b.append("  ").append(rate > 0 ? Human.rate(rate) : "-- B/s");
    b.append("  ETA ").append(eta(done, total, rate));
    return b.toString();
  }

  private static String eta(long done, long total, long rate) {
    if (total > 0 && done >= total) {
      return "0s";
    }
    if (rate <= 0 || total <= 0) {
      return "--";
    }
    long seconds = (total - done + rate - 1) / rate;
    return seconds > 99 * 3600 ? ">99h" : Human.duration(seconds);
  }
}
