package io.pullmesh.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RegistryRouteTest {
  static final String D = "sha256:" + DigestTest.HEX;

  @Test
  void base() {
    assertInstanceOf(RegistryRoute.Base.class, RegistryRoute.parse("/v2/"));
    assertInstanceOf(RegistryRoute.Base.class, RegistryRoute.parse("/v2"));
    assertNull(RegistryRoute.parse("/healthz"));
    assertNull(RegistryRoute.parse("/v2x"));
  }

  @Test
  void manifestByTagAndDigest() {
    var m = assertInstanceOf(RegistryRoute.Manifest.class, RegistryRoute.parse("/v2/library/qwen2.5/manifests/7b"));
    assertEquals("library/qwen2.5", m.name().value());
    assertEquals("7b", m.reference().toString());
    var d = assertInstanceOf(RegistryRoute.Manifest.class, RegistryRoute.parse("/v2/library/qwen2.5/manifests/" + D));
    assertTrue(d.reference().isDigest());
  }

  @Test
  void blobAndNestedNames() {
    var b = assertInstanceOf(RegistryRoute.Blob.class, RegistryRoute.parse("/v2/a/b/c/blobs/" + D));
    assertEquals("a/b/c", b.name().value());
    assertEquals(D, b.digest().toString());
    // a repository may itself be called "blobs" or "manifests"
    var m = assertInstanceOf(RegistryRoute.Manifest.class, RegistryRoute.parse("/v2/blobs/manifests/manifests/latest"));
    assertEquals("blobs/manifests", m.name().value());
  }

  @Test
  void modelScopesBlobDownloadUrlNamesTheBlob() {
    var b = assertInstanceOf(RegistryRoute.Blob.class, RegistryRoute.parse("/v2/Qwen/Qwen2.5-7B-GGUF/blobs/download/" + D));
    assertEquals("Qwen/Qwen2.5-7B-GGUF", b.name().spelled());
    assertEquals(D, b.digest().toString());
  }

  @Test
  void tagList() {
    var t = assertInstanceOf(RegistryRoute.TagList.class, RegistryRoute.parse("/v2/library/qwen2.5/tags/list"));
    assertEquals("library/qwen2.5", t.name().value());
  }

  @ParameterizedTest
  @CsvSource({
      "/v2/library/../x/blobs/" + D + ", NAME_INVALID",
      "/v2/library%2Fqwen/manifests/7b, NAME_INVALID",
      "/v2/library/qwen/manifests/%2e%2e, NAME_INVALID",
      "/v2/library//qwen/manifests/7b, NAME_INVALID",
      "/v2/./qwen/manifests/7b, NAME_INVALID",
      "/v2/library\\qwen/manifests/7b, NAME_INVALID",
      "/v2/lib rary/qwen/manifests/7b, NAME_INVALID",
      "/v2/library/qwen/blobs/sha256:xyz, DIGEST_INVALID",
      "/v2/library/qwen/blobs/../../etc/passwd, NAME_INVALID",
      "/v2/library/qwen/blobs/md5:abc, DIGEST_INVALID",
      "/v2/library/qwen/manifests/sha256:abc, DIGEST_INVALID",
      "/v2/library/qwen/manifests/.bad, TAG_INVALID",
      "/v2/library/qwen, NOT_FOUND",
      "/v2/library/qwen/manifests/, NAME_INVALID",
      "/v2/library/qwen/blobs/uploads/, UNSUPPORTED",
      "/v2/library/qwen/blobs/uploads, UNSUPPORTED",
      "/v2/library/qwen/blobs/uploads/abc, UNSUPPORTED"})
  void refusesBadPaths(String path, ErrorCode code) {
    RegistryException e = assertThrows(RegistryException.class, () -> RegistryRoute.parse(path));
    assertEquals(code, e.code(), e.getMessage());
    assertEquals(code.status(), e.status());
  }

  @Test
  void errorJsonEscapes() {
    assertEquals("{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":\"a \\\"b\\\"\\n\\\\\"}]}",
        RegistryException.errorJson(ErrorCode.BLOB_UNKNOWN, "a \"b\"\n\\"));
  }
}
