package io.pullmesh.mesh;

import io.pullmesh.core.Digest;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Tokens for the peer data plane, made from the mesh's shared secret: a node asks a peer for a blob with
 * {@code Authorization: PullmeshPeer <node>:<expires epoch s>:<hex HMAC-SHA256(secret, node|digest|expires)>}. The peer
 * serves only a token for that very digest, unexpired, whose HMAC it can recompute with the same secret (compared in
 * constant time). A node without the secret can neither ask nor be asked: its tokens fail, and it has no token to
 * present. Hazelcast's open-source edition cannot authenticate members, so this is where the secret is enforced.
 */
public final class PeerTokens {
  /** The scheme in the Authorization header. */
  public static final String SCHEME = "PullmeshPeer";

  private final byte[] key;
  private final Clock clock;
  private final Duration validity;

  public PeerTokens(String secret, Clock clock, Duration validity) {
    this.key = requireSecret(secret).getBytes(StandardCharsets.UTF_8);
    this.clock = clock;
    this.validity = validity;
  }

  /**
   * Returns {@code secret} if it can serve as a mesh secret.
   *
   * @throws IllegalArgumentException when it is missing or shorter than 16 characters
   */
  static String requireSecret(String secret) {
    if (secret == null || secret.length() < 16) {
      throw new IllegalArgumentException("the mesh secret must be at least 16 characters (e.g. from `openssl rand -hex 16`)");
    }
    return secret;
  }

  /** A header value that lets {@code node} fetch {@code digest} until the validity runs out. */
  public String issue(String node, Digest digest) {
    long expires = clock.instant().plus(validity).getEpochSecond();
    return SCHEME + " " + node + ":" + expires + ":" + HexFormat.of().formatHex(mac(node, digest, expires));
  }

  /**
   * Checks a header value for {@code digest}.
   *
   * @return the node that presented it
   * @throws SecurityException saying what is wrong (malformed, expired, wrong digest or secret)
   */
  public String verify(String header, Digest digest) {
    if (header == null || !header.startsWith(SCHEME + " ")) {
      throw new SecurityException("no " + SCHEME + " token");
    }
    String[] f = header.substring(SCHEME.length() + 1).strip().split(":");
    if (f.length != 3 || f[0].isEmpty()) {
      throw new SecurityException("malformed " + SCHEME + " token");
    }
    long expires;
    byte[] given;
    try {
      expires = Long.parseLong(f[1]);
      given = HexFormat.of().parseHex(f[2]);
    } catch (IllegalArgumentException e) {
      throw new SecurityException("malformed " + SCHEME + " token");
    }
    if (clock.instant().getEpochSecond() > expires) {
      throw new SecurityException("expired " + SCHEME + " token");
    }
    if (!MessageDigest.isEqual(given, mac(f[0], digest, expires))) {
      throw new SecurityException(SCHEME + " token does not match (another digest, or another mesh secret)");
    }
    return f[0];
  }

  private byte[] mac(String node, Digest digest, long expires) {
    try {
      Mac m = Mac.getInstance("HmacSHA256");
      m.init(new SecretKeySpec(key, "HmacSHA256"));
      return m.doFinal((node + "|" + digest + "|" + expires).getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is missing from this JDK", e);
    }
  }
}
