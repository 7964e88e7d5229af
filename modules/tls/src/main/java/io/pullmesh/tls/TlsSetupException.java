package io.pullmesh.tls;

/**
 * TLS material is unusable as it stands: a CA key file readable by others, a certificate that does not belong to
 * its key, malformed PEM, an expired CA. The message names the file or value and says what to do about it.
 */
public class TlsSetupException extends RuntimeException {
  public TlsSetupException(String message) {
    super(message);
  }

  public TlsSetupException(String message, Throwable cause) {
    super(message, cause);
  }
}
