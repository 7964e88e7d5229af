package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import io.pullmesh.tls.Pem;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code java -jar pullmesh-proxy.jar ca print|rotate}, run in-process through {@link Main#run}. */
class CaCommandTest {
  @TempDir Path dir;

  private record Run(int code, String out, String err) {}

  private static Run run(Map<String, String> env, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Main.run(args, env, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8), false);
    return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void printMakesTheCaOnceAndPrintsTheSamePemEachTime() throws Exception {
    Path cache = dir.resolve("cache");
    Run first = run(Map.of(), "ca", "print", "--cache-dir", cache.toString());
    assertEquals(0, first.code(), first.err());
    assertTrue(first.err().contains("(made now)"), first.err());
    assertEquals(Files.readString(cache.resolve("ca").resolve("ca.crt")), first.out(), "stdout is exactly the certificate file");
    assertTrue(Pem.readCertificate(first.out(), "stdout").getBasicConstraints() >= 0);

    Run second = run(Map.of("PULLMESH_CACHE_DIR", cache.toString()), "ca", "print");
    assertEquals(0, second.code(), second.err());
    assertEquals(first.out(), second.out());
    assertTrue(!second.err().contains("made now") && second.err().contains("SHA-256"), second.err());
  }

  @Test
  void rotateReplacesTheCaKeepsThePreviousPairAndTheProxyUsesTheNewOneAfterARestart() throws Exception {
    Path cache = dir.resolve("cache");
    Path caDir = dir.resolve("my-ca");
    try (FakeRegistry upstream = FakeRegistry.start(ModelFixture.tiny().create(dir.resolve("model")))) {
      ProxyConfig config = Harness.config(upstream.registryUrl(), cache, "--ca-dir", caDir.toString());
      String before;
      try (PullmeshProxy p = PullmeshProxy.start(config, Harness.testFetchConfig(2), Clock.systemUTC())) {
        before = p.ca().fingerprintSha256();
      }
      Run r = run(Map.of(), "ca", "rotate", "--ca-dir=" + caDir);
      assertEquals(0, r.code(), r.err());
      assertTrue(r.out().contains("previous SHA-256 " + before), r.out());
      try (Stream<Path> files = Files.list(caDir)) {
        assertEquals(2, files.filter(f -> f.getFileName().toString().matches("ca\\.(crt|key)\\.\\d{8}T\\d{6}Z")).count(),
            "the previous certificate and key are kept");
      }
      try (PullmeshProxy p = PullmeshProxy.start(config, Harness.testFetchConfig(2), Clock.systemUTC())) {
        assertNotEquals(before, p.ca().fingerprintSha256());
        assertTrue(r.out().contains("new      SHA-256 " + p.ca().fingerprintSha256()), r.out());
      }
    }
  }

  @Test
  void badUsageSaysWhatToDo() {
    Run none = run(Map.of(), "ca");
    assertEquals(2, none.code());
    assertTrue(none.err().contains("ca print"), none.err());
    Run unknown = run(Map.of(), "ca", "show");
    assertEquals(2, unknown.code());
    assertTrue(unknown.err().contains("use print or rotate"), unknown.err());
    Run badType = run(Map.of(), "ca", "print", "--cache-dir", dir.toString(), "--ca-key-type", "dsa");
    assertEquals(2, badType.code());
    assertTrue(badType.err().contains("ecdsa-p256"), badType.err());
    Run missing = run(Map.of(), "ca", "print", "--ca-dir");
    assertEquals(2, missing.code());
    assertTrue(missing.err().contains("--ca-dir needs a value"), missing.err());
  }

  @Test
  void aKeyOthersCanReadIsRefusedWithAdvice() throws Exception {
    Path caDir = dir.resolve("ca");
    assertEquals(0, run(Map.of(), "ca", "print", "--ca-dir", caDir.toString()).code());
    Files.setPosixFilePermissions(caDir.resolve("ca.key"), java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
    Run r = run(Map.of(), "ca", "print", "--ca-dir", caDir.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("ca.key"), r.err());
  }
}
