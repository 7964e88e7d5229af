package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.net.URI;
import org.junit.jupiter.api.Test;

class UpstreamCredentialsTest {
  private static UpstreamCredentials of(String url) {
    return UpstreamCredentials.fromUserInfo(URI.create(url).getRawUserInfo());
  }

  @Test
  void aPlusInUserInfoStaysAPlusAsGoAndJavaNetUriReadIt() {
    UpstreamCredentials c = of("http://bot+ci:p+ss@proxy.corp:3128");
    assertEquals("bot+ci", c.username());
    assertEquals("p+ss", c.password());
    assertEquals(URI.create("http://bot+ci:p+ss@proxy.corp:3128").getUserInfo(), c.username() + ":" + c.password());
  }

  @Test
  void percentEscapesAreDecodedAsUtf8OnEachSideOfTheFirstRawColon() {
    UpstreamCredentials c = of("https://us%3Aer:p%40ss%3Aw%C3%B6rd%20x@registry.corp");
    assertEquals("us:er", c.username(), "an escaped colon belongs to the user name");
    assertEquals("p@ss:wörd x", c.password());
  }

  @Test
  void aUserAloneHasAnEmptyPasswordAndNoUserInfoIsNoCredentials() {
    assertEquals(new UpstreamCredentials("alice", ""), of("http://alice@proxy:3128"));
    assertNull(of("http://proxy:3128"));
  }

  @Test
  void aTransportProxyAndAnUpstreamUrlReadTheirUserInfoAlike() {
    URI proxy = URI.create("http://a+b:c%2Bd+e@proxy:3128");
    UpstreamTransport t = new UpstreamTransport(java.util.List.of(), proxy);
    assertEquals(UpstreamCredentials.fromUserInfo(proxy.getRawUserInfo()), t.proxyCredentials());
    assertEquals(new UpstreamCredentials("a+b", "c+d+e"), t.proxyCredentials());
  }
}
