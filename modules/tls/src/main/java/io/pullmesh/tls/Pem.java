package io.pullmesh.tls;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.X509TrustedCertificateBlock;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * PEM text for certificates and private keys. Writes certificates as {@code CERTIFICATE} blocks and keys as
 * unencrypted PKCS#8 {@code PRIVATE KEY} blocks, with 64-character lines and {@code \n} line ends. Reads
 * certificates (one, or a bundle of several with any text between the blocks) and private keys in PKCS#8 or the
 * traditional OpenSSL forms ({@code EC PRIVATE KEY}, {@code RSA PRIVATE KEY}).
 *
 * <p>Malformed input is reported as a {@link TlsSetupException} naming where it came from (a file's path, or
 * the {@code source} given) and what was wrong; I/O failures are {@link IOException}s.
 */
public final class Pem {
  private static final Base64.Encoder BASE64 = Base64.getMimeEncoder(64, new byte[] {'\n'});

  private Pem() {}

  /** The certificate as a PEM {@code CERTIFICATE} block, ending with a newline. */
  public static String toPem(X509Certificate certificate) {
    try {
      return block("CERTIFICATE", certificate.getEncoded());
    } catch (CertificateEncodingException e) {
      throw new IllegalArgumentException("certificate cannot be encoded: " + e.getMessage(), e);
    }
  }

  /** The key as an unencrypted PKCS#8 PEM {@code PRIVATE KEY} block, ending with a newline. */
  public static String toPem(PrivateKey key) {
    byte[] der = key.getEncoded();
    if (der == null || !"PKCS#8".equals(key.getFormat())) {
      throw new IllegalArgumentException("private key of type " + key.getAlgorithm() + " has no PKCS#8 encoding");
    }
    return block("PRIVATE KEY", der);
  }

  /** Writes the certificate's PEM to {@code file} (replacing it), readable by everyone. */
  public static void writeCertificate(Path file, X509Certificate certificate) throws IOException {
    OwnerOnlyFiles.writeAtomically(file, toPem(certificate).getBytes(StandardCharsets.US_ASCII), false);
  }

  /**
   * Writes the key's PKCS#8 PEM to {@code file} (replacing it). On POSIX file systems the file is created with
   * mode 0600 from the start, so it is never readable by others, not even briefly.
   */
  public static void writePrivateKey(Path file, PrivateKey key) throws IOException {
    OwnerOnlyFiles.writeAtomically(file, toPem(key).getBytes(StandardCharsets.US_ASCII), true);
  }

  /** Reads the single certificate in {@code file}. */
  public static X509Certificate readCertificate(Path file) throws IOException {
    return readCertificate(read(file), file.toString());
  }

  /**
   * Reads the single certificate in {@code pem}.
   *
   * @param source what to call the input in error messages, e.g. a file name or option
   * @throws TlsSetupException when there is no certificate, more than one, or it is malformed
   */
  public static X509Certificate readCertificate(String pem, String source) {
    List<X509Certificate> all = readCertificates(pem, source);
    if (all.size() != 1) {
      throw new TlsSetupException(source + " holds " + all.size() + " certificates where exactly one was expected");
    }
    return all.get(0);
  }

  /** Reads every certificate in the bundle {@code file} (e.g. an extra CA bundle for verifying upstreams). */
  public static List<X509Certificate> readCertificates(Path file) throws IOException {
    return readCertificates(read(file), file.toString());
  }

  /**
   * Reads every certificate in {@code pem}, in order. Text outside the PEM blocks is ignored, as in the usual
   * {@code ca-certificates.crt} bundles; OpenSSL's {@code TRUSTED CERTIFICATE} blocks are read as their
   * certificate.
   *
   * @throws TlsSetupException when there is no certificate, a block is malformed, or a block is not a certificate
   *     (a private key in a certificate bundle is refused rather than skipped)
   */
  public static List<X509Certificate> readCertificates(String pem, String source) {
    List<X509Certificate> out = new ArrayList<>();
    JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
    try (PEMParser parser = new PEMParser(new StringReader(pem))) {
      for (Object o = next(parser, source); o != null; o = next(parser, source)) {
        X509CertificateHolder holder;
        if (o instanceof X509CertificateHolder) {
          holder = (X509CertificateHolder) o;
        } else if (o instanceof X509TrustedCertificateBlock) {
          holder = ((X509TrustedCertificateBlock) o).getCertificateHolder();
        } else {
          throw new TlsSetupException(source + ": block " + (out.size() + 1) + " is " + describe(o)
              + ", not a certificate: keep only CERTIFICATE blocks in a certificate file");
        }
        try {
          out.add(converter.getCertificate(holder));
        } catch (CertificateException e) {
          throw new TlsSetupException(source + ": certificate " + (out.size() + 1) + " is malformed: " + e.getMessage(), e);
        }
      }
    } catch (IOException e) {
      throw new TlsSetupException(source + ": cannot be parsed as PEM: " + e.getMessage(), e);
    }
    if (out.isEmpty()) {
      throw new TlsSetupException(source + " holds no PEM certificate" + notPemHint(pem, "x509")
          + " (expected -----BEGIN CERTIFICATE----- blocks)");
    }
    return out;
  }

  /** Reads the private key in {@code file}. */
  public static PrivateKey readPrivateKey(Path file) throws IOException {
    return readPrivateKey(read(file), file.toString());
  }

  /**
   * Reads the first private key in {@code pem}: PKCS#8 {@code PRIVATE KEY}, {@code EC PRIVATE KEY} (an
   * {@code EC PARAMETERS} block before it is skipped) or {@code RSA PRIVATE KEY}.
   *
   * @throws TlsSetupException when there is no key, it is encrypted, or it is malformed
   */
  public static PrivateKey readPrivateKey(String pem, String source) {
    JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
    try (PEMParser parser = new PEMParser(new StringReader(pem))) {
      for (Object o = next(parser, source); o != null; o = next(parser, source)) {
        if (o instanceof PrivateKeyInfo) {
          return converter.getPrivateKey((PrivateKeyInfo) o);
        } else if (o instanceof PEMKeyPair) {
          return converter.getPrivateKey(((PEMKeyPair) o).getPrivateKeyInfo()); // the public half is optional in SEC1
        } else if (o instanceof PKCS8EncryptedPrivateKeyInfo || o instanceof PEMEncryptedKeyPair) {
          throw new TlsSetupException(source + " holds an encrypted private key; pullmesh needs it unencrypted "
              + "(protected by file permissions): convert it with `openssl pkey -in " + source + " -out key.pem` and chmod 600 the result");
        } else if (!(o instanceof ASN1ObjectIdentifier)) {
          throw new TlsSetupException(source + " holds " + describe(o) + " where a private key was expected");
        }
      }
    } catch (IOException e) {
      throw new TlsSetupException(source + ": private key cannot be parsed: " + e.getMessage(), e);
    }
    throw new TlsSetupException(source + " holds no PEM private key" + notPemHint(pem, "pkey")
        + " (expected a -----BEGIN PRIVATE KEY----- block)");
  }

  private static Object next(PEMParser parser, String source) throws IOException {
    try {
      return parser.readObject();
    } catch (IllegalArgumentException | IllegalStateException e) {
      // Bouncy Castle reports bad base64 and bad DER as unchecked exceptions
      throw new IOException("malformed PEM block (" + e.getMessage() + ")", e);
    }
  }

  private static String describe(Object o) {
    if (o instanceof PrivateKeyInfo || o instanceof PEMKeyPair || o instanceof PKCS8EncryptedPrivateKeyInfo
        || o instanceof PEMEncryptedKeyPair) {
      return "a private key";
    }
    if (o instanceof X509CertificateHolder || o instanceof X509TrustedCertificateBlock) {
      return "a certificate";
    }
    return "a " + o.getClass().getSimpleName() + " block";
  }

  private static String notPemHint(String text, String opensslCommand) {
    return text.contains("-----BEGIN") ? ""
        : " (no -----BEGIN line: if it is DER, convert it with `openssl " + opensslCommand + " -inform der -outform pem`)";
  }

  private static String read(Path file) throws IOException {
    return new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
  }

  private static String block(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n" + BASE64.encodeToString(der) + "\n-----END " + type + "-----\n";
  }
}
