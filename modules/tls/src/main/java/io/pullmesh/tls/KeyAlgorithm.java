package io.pullmesh.tls;

import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.spec.ECGenParameterSpec;
import java.util.Locale;

/** The key algorithms a pullmesh CA can be created with. Leaf keys are always ECDSA P-256 (fast to make). */
public enum KeyAlgorithm {
  /** ECDSA on NIST P-256, certificates signed with SHA256withECDSA. The default: small and fast. */
  ECDSA_P256("ecdsa-p256", "EC", "SHA256withECDSA"),
  /** RSA with a 3072-bit modulus, certificates signed with SHA256withRSA. For clients without ECDSA. */
  RSA_3072("rsa-3072", "RSA", "SHA256withRSA");

  private final String configName;
  private final String jcaName;
  private final String signatureAlgorithm;

  KeyAlgorithm(String configName, String jcaName, String signatureAlgorithm) {
    this.configName = configName;
    this.jcaName = jcaName;
    this.signatureAlgorithm = signatureAlgorithm;
  }

  /** The algorithm used when none is configured: {@link #ECDSA_P256}. */
  public static KeyAlgorithm defaultAlgorithm() {
    return ECDSA_P256;
  }

  /** The name used in configuration and on the command line: {@code ecdsa-p256} or {@code rsa-3072}. */
  public String configName() {
    return configName;
  }

  /** The JCA signature algorithm certificates signed by such a key use, e.g. {@code SHA256withECDSA}. */
  public String signatureAlgorithm() {
    return signatureAlgorithm;
  }

  /**
   * Parses a configuration value: {@code ecdsa-p256} or {@code rsa-3072} (case-insensitive; the enum constant
   * names are accepted too).
   *
   * @throws IllegalArgumentException naming the accepted values
   */
  public static KeyAlgorithm parse(String value) {
    String v = value == null ? "" : value.trim().toLowerCase(Locale.ROOT).replace('_', '-');
    for (KeyAlgorithm a : values()) {
      if (a.configName.equals(v) || a.name().toLowerCase(Locale.ROOT).replace('_', '-').equals(v)) {
        return a;
      }
    }
    throw new IllegalArgumentException("unknown CA key algorithm '" + value + "': use ecdsa-p256 (default) or rsa-3072");
  }

  KeyPair generate(SecureRandom random) {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance(jcaName);
      if (this == ECDSA_P256) {
        g.initialize(new ECGenParameterSpec("secp256r1"), random);
      } else {
        g.initialize(3072, random);
      }
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JDK cannot generate " + configName + " keys", e);
    }
  }

  /**
   * The signature algorithm for a key read from disk, which may not have been made by pullmesh.
   *
   * @throws TlsSetupException for key types pullmesh cannot sign certificates with
   */
  static String signatureAlgorithmFor(PrivateKey key, String source) {
    switch (key.getAlgorithm()) {
      case "EC":
        return ECDSA_P256.signatureAlgorithm;
      case "RSA":
        return RSA_3072.signatureAlgorithm;
      default:
        throw new TlsSetupException(source + " holds a " + key.getAlgorithm()
            + " key; pullmesh signs with EC or RSA keys only: replace it, or delete the CA files to make a new CA");
    }
  }
}
