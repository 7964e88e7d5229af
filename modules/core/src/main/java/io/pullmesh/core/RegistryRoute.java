package io.pullmesh.core;

import java.util.Arrays;
import java.util.List;

/**
 * A parsed registry API path ({@code /v2/...}). Parsing works on the raw, undecoded path: any percent
 * escape, backslash, empty or dot segment is refused before anything looks the name up, so no encoded
 * slash or {@code ..} can ever reach a cache key or a file name.
 */
public sealed interface RegistryRoute {

  /** {@code /v2/}: the API version check. */
  record Base() implements RegistryRoute {}

  /** {@code /v2/<name>/manifests/<reference>}. */
  record Manifest(RepositoryName name, Reference reference) implements RegistryRoute {}

  /** {@code /v2/<name>/blobs/<digest>}. */
  record Blob(RepositoryName name, Digest digest) implements RegistryRoute {}

  /** {@code /v2/<name>/tags/list}. */
  record TagList(RepositoryName name) implements RegistryRoute {}

  /**
   * Parses a raw request path (no query string). Returns null for paths outside {@code /v2}.
   *
   * @throws RegistryException 400 {@code NAME_INVALID}, {@code DIGEST_INVALID} or {@code TAG_INVALID} for a
   *     malformed name, digest or tag; 404 {@code NOT_FOUND} for a {@code /v2/} path of no known shape;
   *     405 {@code UNSUPPORTED} for upload paths (a mirror is read-only)
   */
  static RegistryRoute parse(String rawPath) {
    if (rawPath == null || !(rawPath.equals("/v2") || rawPath.startsWith("/v2/"))) {
      return null;
    }
    if (rawPath.equals("/v2") || rawPath.equals("/v2/")) {
      return new Base();
    }
    String rest = rawPath.substring("/v2/".length());
    if (rest.indexOf('%') >= 0 || rest.indexOf('\\') >= 0) {
      throw new RegistryException(ErrorCode.NAME_INVALID,
          "path " + Digest.quote(rawPath) + " holds an escaped or reserved character (expected: /v2/<name>/manifests/<reference> or /v2/<name>/blobs/sha256:<hex>)");
    }
    if (rest.matches(".*/blobs/uploads(/.*)?")) {
      throw new RegistryException(ErrorCode.UNSUPPORTED, "pullmesh is a read-only mirror: uploads are not accepted");
    }
    List<String> segments = Arrays.asList(rest.split("/", -1));
    for (String s : segments) {
      if (s.isEmpty() || s.equals(".") || s.equals("..")) {
        throw new RegistryException(ErrorCode.NAME_INVALID,
            "path " + Digest.quote(rawPath) + " has an empty or dot segment");
      }
    }
    int n = segments.size();
    if (n >= 3 && segments.get(n - 2).equals("tags") && segments.get(n - 1).equals("list")) {
      return new TagList(name(segments.subList(0, n - 2)));
    }
    if (n >= 3 && segments.get(n - 2).equals("manifests")) {
      RepositoryName name = name(segments.subList(0, n - 2));
      Reference ref;
      try {
        ref = Reference.parse(segments.get(n - 1));
      } catch (IllegalArgumentException e) {
        ErrorCode code = segments.get(n - 1).startsWith(Digest.ALGORITHM + ":") ? ErrorCode.DIGEST_INVALID : ErrorCode.TAG_INVALID;
        throw new RegistryException(code, e.getMessage());
      }
      return new Manifest(name, ref);
    }
    if (n >= 4 && segments.get(n - 3).equals("blobs") && segments.get(n - 2).equals("download")) {
      // ModelScope's blob URL, where modelscope.cn redirects a blob GET: /v2/<user>/<model>/blobs/download/sha256:<hex>
      // (modelscope/modelscope #1219)
      RepositoryName name = name(segments.subList(0, n - 3));
      try {
        return new Blob(name, Digest.parse(segments.get(n - 1)));
      } catch (IllegalArgumentException e) {
        throw new RegistryException(ErrorCode.DIGEST_INVALID, e.getMessage());
      }
    }
    if (n >= 3 && segments.get(n - 2).equals("blobs")) {
      RepositoryName name = name(segments.subList(0, n - 2));
      try {
        return new Blob(name, Digest.parse(segments.get(n - 1)));
      } catch (IllegalArgumentException e) {
        throw new RegistryException(ErrorCode.DIGEST_INVALID, e.getMessage());
      }
    }
    throw new RegistryException(ErrorCode.NOT_FOUND,
        "no registry API at " + Digest.quote(rawPath) + " (expected: /v2/<name>/manifests/<reference> or /v2/<name>/blobs/sha256:<hex>)");
  }

  private static RepositoryName name(List<String> parts) {
    try {
      return RepositoryName.of(parts);
    } catch (IllegalArgumentException e) {
      throw new RegistryException(ErrorCode.NAME_INVALID, e.getMessage());
    }
  }
}
