package io.pullmesh.testkit.registry;

import io.pullmesh.core.RepositoryName;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * registry.ollama.ai's version gate: a manifest GET or HEAD answers <b>412</b> with a plain-text body when the
 * client's Ollama version, read from its {@code User-Agent}, is older than the model needs (ollama/ollama issues
 * #11457, #11675, #14431, #14876, #15223, #10643). Sources of each rule:
 * <ul>
 *   <li>The User-Agent is {@code ollama/<version> (<arch> <os>) Go/<go version>} (server/images.go
 *       {@code makeRequest}, e.g. {@code ollama/0.13.5 (amd64 linux) Go/go1.24.1}); a build from source reports
 *       {@code 0.0.0} (version/version.go) and is refused every gated model.
 *   <li>A model declares its minimum in its config blob ({@code requires}, types/model/config.go, written by the
 *       Modelfile's {@code REQUIRES} command, parser/parser.go), a semantic version: so versions compare by
 *       semver precedence here ({@code 0.12.0-rc1} is older than {@code 0.12.0}; build metadata is ignored).
 *   <li>The body, as Ollama prints it after {@code pull model manifest: 412: } (server/images.go
 *       {@code makeRequestWithRetry} prints {@code "%d: %s"} with the raw body): {@link #NEWER_VERSION} (#11675,
 *       #14199, #14876), or {@link #PRE_RELEASE} when the model needs a version newer than the latest release
 *       (#14431: 0.17.0 refused until 0.17.1 was out; #15223, #16483). Which release is "latest" is set with
 *       {@link #setLatestRelease}; unset, the first wording is always used. Reports differ in whether the body
 *       starts with one or two newlines (#11675 and #13411 show two); one is used here.
 * </ul>
 * <b>Assumption</b> (no source says otherwise): a {@code User-Agent} that is not {@code ollama/<version>}, or whose
 * version does not parse, counts as {@code 0.0.0}.
 *
 * <p>A gate names a repository and a tag; it refuses the manifest that tag points at when the request is made,
 * whether asked for by that tag or by digest (the requirement lives in the manifest's config, not in the tag). Gates
 * are kept under the catalog's key of their repository ({@link ModelCatalog#key(String)}), so adding, replacing,
 * removing and looking up a gate all match names by the same rule as the catalog serves them (case-insensitively on
 * registry.ollama.ai: a gate on {@code Library/Qwen3} gates a pull of {@code library/qwen3}). Thread-safe.
 *
 * <p>The version arithmetic here is written apart from {@code io.pullmesh.core.OllamaVersion} on purpose, and must not
 * call it: the fake registry is the oracle that the proxy's own reading of versions is tested against, and an oracle
 * sharing the code under test would agree with its bugs.
 */
final class VersionGate {
  /** The 412 body for a model that needs a released version newer than the client's. */
  static final String NEWER_VERSION = "\nThe model you are attempting to pull requires a newer version of Ollama.\n\n"
      + "Please download the latest version at:\n\n\thttps://ollama.com/download\n";
  /** The 412 body for a model that needs a version newer than the latest release. */
  static final String PRE_RELEASE = "\nThe model you are attempting to pull requires a newer version of Ollama that may "
      + "be in pre-release.\n\nPlease see https://github.com/ollama/ollama/releases for more details.\n";
  /** The version of a client that names none. */
  static final String NO_VERSION = "0.0.0";

  private static final Pattern USER_AGENT = Pattern.compile("^ollama/(\\S+)");
  private static final Pattern VERSION = Pattern.compile(
      "^v?(\\d+)(?:\\.(\\d+))?(?:\\.(\\d+))?(?:-([0-9A-Za-z.-]+))?(?:\\+[0-9A-Za-z.-]+)?$");

  /**
   * One gate: the manifest {@code repository:tag} points at needs at least {@code minimum}.
   *
   * @param repository as added to a {@link FakeRegistry.Builder}; in a {@link VersionGate}, the catalog's key of it
   */
  record Gate(String repository, String tag, String minimum) {}

  private final Function<String, String> repositoryKey;
  private final List<Gate> gates = new CopyOnWriteArrayList<>();
  private volatile String latestRelease;

  /** @param repositoryKey the key the catalog stores a repository under ({@link ModelCatalog#key(String)}) */
  VersionGate(Function<String, String> repositoryKey) {
    this.repositoryKey = repositoryKey;
  }

  /** Adds or replaces the gate of {@code repository:tag}. */
  synchronized void add(String repository, String tag, String minimum) {
    requireVersion(minimum);
    remove(repository, tag);
    gates.add(new Gate(repositoryKey.apply(repository), tag, minimum));
  }

  /** Removes the gate of {@code repository:tag}; false when there was none. */
  synchronized boolean remove(String repository, String tag) {
    String key = repositoryKey.apply(repository);
    return gates.removeIf(g -> g.repository().equals(key) && g.tag().equals(tag));
  }

  /** The gates of {@code repository}, which is matched by the catalog's key. */
  List<Gate> gatesOf(RepositoryName repository) {
    String key = repositoryKey.apply(repository.spelled());
    return gates.stream().filter(g -> g.repository().equals(key)).toList();
  }

  List<Gate> gates() {
    return new ArrayList<>(gates);
  }

  /** The newest released Ollama version, or null (then every refusal uses {@link #NEWER_VERSION}). */
  void setLatestRelease(String version) {
    if (version != null) {
      requireVersion(version);
    }
    latestRelease = version;
  }

  /** The body of a 412 for a model that needs {@code minimum}. */
  String refusalBody(String minimum) {
    String latest = latestRelease;
    return latest != null && compare(minimum, latest) > 0 ? PRE_RELEASE : NEWER_VERSION;
  }

  /** Whether a client with this User-Agent may pull a model that needs {@code minimum}. */
  static boolean admits(String userAgent, String minimum) {
    return compare(versionOf(userAgent), minimum) >= 0;
  }

  /** The Ollama version a User-Agent reports: {@code 0.13.5} for {@code ollama/0.13.5 (amd64 linux) ...}, else 0.0.0. */
  static String versionOf(String userAgent) {
    if (userAgent == null) {
      return NO_VERSION;
    }
    Matcher m = USER_AGENT.matcher(userAgent);
    return m.find() && VERSION.matcher(m.group(1)).matches() ? m.group(1) : NO_VERSION;
  }

  /**
   * Semver precedence of two versions (missing minor or patch count as 0, an optional leading {@code v} is
   * ignored): negative when {@code a} is older, 0 when equal, positive when newer.
   *
   * @throws IllegalArgumentException when either is not a version
   */
  static int compare(String a, String b) {
    Matcher x = parse(a);
    Matcher y = parse(b);
    for (int i = 1; i <= 3; i++) {
      int c = number(x.group(i)).compareTo(number(y.group(i)));
      if (c != 0) {
        return c;
      }
    }
    return comparePreRelease(x.group(4), y.group(4));
  }

  /** A version without a pre-release ranks above the same version with one; else identifier by identifier. */
  private static int comparePreRelease(String a, String b) {
    if (a == null || b == null) {
      return a == null ? (b == null ? 0 : 1) : -1;
    }
    String[] p = a.split("\\.");
    String[] q = b.split("\\.");
    for (int i = 0; i < Math.min(p.length, q.length); i++) {
      boolean pn = p[i].chars().allMatch(Character::isDigit);
      boolean qn = q[i].chars().allMatch(Character::isDigit);
      int c;
      if (pn && qn) {
        c = new BigInteger(p[i]).compareTo(new BigInteger(q[i]));
      } else if (pn || qn) {
        c = pn ? -1 : 1; // numeric identifiers rank below alphanumeric ones
      } else {
        c = p[i].compareTo(q[i]);
      }
      if (c != 0) {
        return c;
      }
    }
    return Integer.compare(p.length, q.length);
  }

  private static Matcher parse(String version) {
    Matcher m = VERSION.matcher(version == null ? "" : version);
    if (!m.matches()) {
      throw new IllegalArgumentException("not a version: " + version + " (expected e.g. 0.13.5 or 0.12.0-rc1)");
    }
    return m;
  }

  /**
   * {@code version}, when it is one.
   *
   * @throws IllegalArgumentException when it is not (e.g. {@code 0.13.5}, {@code 0.12.0-rc1})
   */
  static String requireVersion(String version) {
    parse(version);
    return version;
  }

  private static BigInteger number(String digits) {
    return digits == null ? BigInteger.ZERO : new BigInteger(digits);
  }
}
