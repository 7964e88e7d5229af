/**
 * TLS interception material: pullmesh's own certificate authority ({@link io.pullmesh.tls.CertificateAuthority},
 * created on first start with an owner-only key, reused across restarts, rotatable), leaf certificates minted on
 * demand for an intercepted host and cached ({@link io.pullmesh.tls.LeafIssuer}), an SNI-driven key manager that
 * lets one {@link javax.net.ssl.SSLContext} terminate TLS for any allowed host
 * ({@link io.pullmesh.tls.SniKeyManager}), and PEM reading and writing ({@link io.pullmesh.tls.Pem}).
 *
 * <p>Certificates are shaped for strict clients such as Go's {@code crypto/x509} (which Ollama uses): leaves carry
 * the host as a subjectAltName (DNS name, or IP address for literals), the serverAuth extended key usage and an
 * authority key identifier; the CA has critical BasicConstraints CA:TRUE and KeyUsage keyCertSign. Serial numbers
 * are random, positive and 128 bits. Every time comes from an injected {@link java.time.Clock}.
 *
 * <p>This is the only pullmesh module that uses Bouncy Castle, and only its lightweight certificate builders and
 * PEM parser: no provider is registered, keys and signatures come from the JDK's own providers. File operations
 * block; call them from a worker, not an event loop. Failures that need an operator's action are reported as
 * {@link io.pullmesh.tls.TlsSetupException} with a message that says what to fix.
 */
package io.pullmesh.tls;
