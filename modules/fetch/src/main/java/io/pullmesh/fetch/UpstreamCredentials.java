package io.pullmesh.fetch;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/** A username and password for the upstream registry (basic auth, or the token endpoint). Never printed. */
public record UpstreamCredentials(String username, String password) {
  public String basicHeader() {
    return "Basic " + Base64.getEncoder().encodeToString((username + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public String toString() {
    return "UpstreamCredentials[username=" + username + ", password=***]";
  }
}
