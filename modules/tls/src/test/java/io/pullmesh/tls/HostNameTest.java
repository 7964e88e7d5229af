package io.pullmesh.tls;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class HostNameTest {
  @Test
  void dnsNamesAreNormalized() {
    assertEquals("registry.ollama.ai", HostName.parse(" Registry.OLLAMA.ai. ").value());
    assertFalse(HostName.parse("registry.ollama.ai").isIp());
    assertEquals("localhost", HostName.parse("localhost").value());
    assertEquals("*.r2.cloudflarestorage.com", HostName.parse("*.r2.cloudflarestorage.com").value());
    assertEquals("xn--bcher-kva.example", HostName.parse("Bücher.example").value(), "IDNs in their ASCII form");
    assertEquals("_acme.example.com", HostName.parse("_acme.example.com").value());
  }

  @Test
  void ipLiteralsAreParsedWithoutLookups() {
    HostName v4 = HostName.parse("127.0.0.1");
    assertTrue(v4.isIp());
    assertArrayEquals(new byte[] {127, 0, 0, 1}, v4.ipAddress());
    HostName v6 = HostName.parse("[2001:DB8::1]");
    assertEquals("2001:db8:0:0:0:0:0:1", v6.value());
    assertEquals(16, v6.ipAddress().length);
    assertEquals("2001:db8:0:0:0:0:0:1", HostName.parse("2001:db8::1").value());
  }

  @Test
  void rejectsNonsense() {
    for (String bad : new String[] {"1.2.3.4.5", "01.2.3.4", "999.1.1.1", "a_b c", "fe80::zz", "[]", ":::", "*", "a.*"}) {
      assertThrows(IllegalArgumentException.class, () -> HostName.parse(bad), bad);
    }
  }
}
