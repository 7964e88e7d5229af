package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.RegistryException;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullAndEmptySource;
import org.junit.jupiter.params.provider.ValueSource;

class AdminGuardTest {
  private static final AdminGuard OPEN = new AdminGuard(null, Set.of("mirror.lan"));
  private static final AdminGuard TOKEN = new AdminGuard("0123456789abcdef0123", Set.of());

  private static AdminGuard.Request local(String host, String contentType, String origin, String fetchSite) {
    return new AdminGuard.Request("127.0.0.1", host, null, contentType, origin, fetchSite);
  }

  private static int status(Optional<RegistryException> r) {
    return r.map(RegistryException::status).orElse(0);
  }

  @Test
  void theAdminCliOnThisMachineMayChangeWithoutAToken() {
    assertEquals(Optional.empty(), OPEN.refusal(local("127.0.0.1:9200", "application/json", null, null)));
    assertEquals(Optional.empty(), OPEN.refusal(local("localhost:9200", "application/json; charset=utf-8", null, null)));
    assertEquals(Optional.empty(), OPEN.refusal(local("[::1]:9200", "application/json", null, null)));
    assertEquals(Optional.empty(), OPEN.refusal(local("mirror.lan:9200", "application/json", null, null)));
  }

  @Test
  void regressionASimpleCrossSitePostFromAWebPageIsRefused() {
    // issue 18: text/plain with Origin http://evil.example repointed library/<model>:latest through /admin/v1/alias
    assertEquals(415, status(OPEN.refusal(local("127.0.0.1:9200", "text/plain", "http://evil.example", "cross-site"))));
    assertEquals(403, status(OPEN.refusal(local("127.0.0.1:9200", "application/json", "http://evil.example", null))));
    assertEquals(403, status(OPEN.refusal(local("127.0.0.1:9200", "application/json", null, "cross-site"))));
    assertEquals(403, status(OPEN.refusal(local("127.0.0.1:9200", "application/json", "null", null))), "a sandboxed page's origin");
    assertEquals(Optional.empty(), OPEN.refusal(local("127.0.0.1:9200", "application/json", "http://127.0.0.1:9200", "same-origin")),
        "the node's own status page may");
  }

  @Test
  void regressionADnsRebindingNameForLoopbackIsRefusedWithoutAToken() {
    Optional<RegistryException> r = OPEN.refusal(local("rebind.evil.example:9200", "application/json", null, null));
    assertEquals(403, status(r));
    assertTrue(r.get().getMessage().contains("not a name of this node"), r.get().getMessage());
  }

  @Test
  void withATokenAnyNameWillDoButTheTokenAndTheJsonAreNeeded() {
    AdminGuard.Request withToken = new AdminGuard.Request("10.0.0.7", "pullmesh.corp:9200", "Bearer 0123456789abcdef0123",
        "application/json", null, null);
    assertEquals(Optional.empty(), TOKEN.refusal(withToken));
    assertEquals(401, status(TOKEN.refusal(new AdminGuard.Request("127.0.0.1", "127.0.0.1:9200", "Bearer wrong", "application/json", null, null))));
    assertEquals(415, status(TOKEN.refusal(new AdminGuard.Request("10.0.0.7", "pullmesh.corp", "Bearer 0123456789abcdef0123", "text/plain",
        null, null))));
  }

  @Test
  void withoutATokenOnlyThisMachineMayChange() {
    assertEquals(403, status(OPEN.refusal(new AdminGuard.Request("10.0.0.7", "127.0.0.1:9200", null, "application/json", null, null))));
  }

  @ParameterizedTest
  @ValueSource(strings = {"127.0.0.1", "127.3.2.1", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"})
  void changesWithoutATokenAreAllowedFromALoopbackAddress(String address) {
    assertTrue(AdminGuard.isLoopback(address));
  }

  /** Nor from a name such as localhost: a name is never looked up, only the peer's address literal counts. */
  @ParameterizedTest
  @NullAndEmptySource
  @ValueSource(strings = {"10.0.0.7", "192.168.1.20", "0.0.0.0", "::ffff:10.0.0.7", "fe80::1", "2001:db8::1", "::", "localhost"})
  void changesWithoutATokenAreRefusedFromAnyOtherAddress(String address) {
    assertFalse(AdminGuard.isLoopback(address));
  }
}
