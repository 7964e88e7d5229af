package io.pullmesh.proxy;

import io.pullmesh.testkit.tools.ProcessResult;
import io.pullmesh.testkit.tools.Tools;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * Collects rows of docs/compatibility.md while tests run. A test names what it exercises with {@link #row} (a
 * client or registry, its version, the mode, the upstream, what is checked); when the test ends the rows are
 * written with the test's real outcome: "works" when it passed (or the known limitation the test asserted, see
 * {@link #row(String, String, Mode, String, String, String)}), "FAILS: ..." when it failed. A skipped test
 * writes nothing. One file per test invocation, {@code target/compatibility/<class>#<method>[<n>]_<argument>.tsv} (the
 * directory can be changed with {@code -Dpullmesh.compatibility.dir}), so running one test refreshes only its
 * rows. {@link CompatibilityReport} turns the files into the markdown table.
 *
 * <p>Register it with {@code @RegisterExtension final CompatibilityRecorder compat = new CompatibilityRecorder();}.
 */
final class CompatibilityRecorder implements BeforeEachCallback, TestWatcher {
  /** How the client reaches pullmesh, or what role the thing plays. */
  enum Mode {
    MIRROR("mirror (host-qualified name)"),
    INTERCEPTION("HTTPS_PROXY interception"),
    UPSTREAM("upstream registry"),
    DIRECT("direct, without pullmesh (contrast)");

    final String label;

    Mode(String label) {
      this.label = label;
    }
  }

  /** Column order of the TSV files; {@link CompatibilityReport} reads them by these names. */
  static final List<String> COLUMNS = List.of("client", "version", "mode", "upstream", "result", "checks", "test", "recorded", "platform");

  private record Row(String client, String version, Mode mode, String upstream, String checks, String expected) {}

  private static final Map<String, String> VERSIONS = new ConcurrentHashMap<>();

  private final List<Row> rows = new ArrayList<>();

  @Override
  public void beforeEach(ExtensionContext context) {
    rows.clear();
  }

  /** A row whose result is "works" if the test passes. */
  void row(String client, String version, Mode mode, String upstream, String checks) {
    rows.add(new Row(client, version, mode, upstream, checks, null));
  }

  /**
   * A row for a known limitation the test asserts (e.g. a client that refuses Ollama's media types):
   * {@code expected} is the result when the test passes.
   */
  void row(String client, String version, Mode mode, String upstream, String checks, String expected) {
    rows.add(new Row(client, version, mode, upstream, checks, expected));
  }

  @Override
  public void testSuccessful(ExtensionContext context) {
    write(context, null);
  }

  @Override
  public void testFailed(ExtensionContext context, Throwable cause) {
    String msg = String.valueOf(cause.getMessage()).strip();
    int nl = msg.indexOf('\n');
    msg = nl < 0 ? msg : msg.substring(0, nl);
    write(context, "FAILS: " + (msg.length() > 200 ? msg.substring(0, 200) + "..." : msg));
  }

  @Override
  public void testAborted(ExtensionContext context, Throwable cause) {
    rows.clear();
  }

  private void write(ExtensionContext context, String failure) {
    if (rows.isEmpty()) {
      return;
    }
    String test = context.getRequiredTestClass().getSimpleName() + "#" + context.getRequiredTestMethod().getName();
    // a parameterized invocation's display name, e.g. "[2] AUTH"
    String invocation = context.getDisplayName().startsWith("[") ? context.getDisplayName() : "";
    String recorded = LocalDate.now(ZoneOffset.UTC).toString();
    String platform = System.getProperty("os.name") + " " + System.getProperty("os.arch") + ", Java " + System.getProperty("java.version");
    StringBuilder tsv = new StringBuilder(String.join("\t", COLUMNS)).append('\n');
    for (Row r : rows) {
      String result = failure != null ? failure : r.expected != null ? r.expected : "works";
      List<String> cells = List.of(r.client, r.version, r.mode.label, r.upstream, result, r.checks, test + (invocation.isEmpty() ? "" : " " + invocation),
          recorded, platform);
      tsv.append(String.join("\t", cells.stream().map(CompatibilityRecorder::clean).toList())).append('\n');
    }
    Path dir = Path.of(System.getProperty("pullmesh.compatibility.dir", "target/compatibility"));
    String file = (test + invocation).replaceAll("[^A-Za-z0-9#._\\-\\[\\]]+", "_") + ".tsv";
    try {
      Files.createDirectories(dir);
      Files.writeString(dir.resolve(file), tsv, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    rows.clear();
  }

  private static String clean(String cell) {
    return cell == null ? "" : cell.replace('\t', ' ').replace('\r', ' ').replace('\n', ' ').strip();
  }

  // ------------------------------------------------------------------ versions, queried from the tools

  /** {@code curl 7.88.1 (x86_64-pc-linux-gnu) ...} → {@code 7.88.1}. */
  static String curlVersion(Path curl) {
    return VERSIONS.computeIfAbsent("curl", k -> word(firstLine(curl, "--version"), 1));
  }

  /** {@code aria2 version 1.36.0} → {@code 1.36.0}. */
  static String aria2cVersion(Path aria2c) {
    return VERSIONS.computeIfAbsent("aria2c", k -> word(firstLine(aria2c, "--version"), 2));
  }

  /** {@code skopeo version 1.9.3} → {@code 1.9.3}. */
  static String skopeoVersion(Path skopeo) {
    return VERSIONS.computeIfAbsent("skopeo", k -> word(firstLine(skopeo, "--version"), 2));
  }

  private static String firstLine(Path exe, String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(exe.toString());
    cmd.addAll(List.of(args));
    ProcessResult r = Tools.run(Duration.ofSeconds(20), cmd);
    if (!r.succeeded()) {
      throw new IllegalStateException(r.describe());
    }
    return r.stdout().strip().lines().findFirst().orElse("");
  }

  private static String word(String line, int index) {
    String[] words = line.split("\\s+");
    return index < words.length ? words[index] : line;
  }
}
