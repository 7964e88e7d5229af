package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.RegistryRoute;
import java.util.Set;
import org.junit.jupiter.api.Test;

class NamespaceRouterTest {
  private static final String BLOB = "sha256:" + "a".repeat(64);
  private final NamespaceRouter router = new NamespaceRouter(Set.of("hf.co", "ModelScope.cn"));

  @Test
  void aTagAskedAtARegistryHostWithItsOwnRegistryIsQualifiedByThatHost() {
    RegistryRoute.Manifest m = assertInstanceOf(RegistryRoute.Manifest.class,
        router.route("/v2/bartowski/Tiny-GGUF/manifests/Q4_K_M", "hf.co"));
    assertEquals("hf.co/bartowski/Tiny-GGUF", m.name().spelled(), "spelled as the client wrote it");
    assertEquals("hf.co", m.name().host());
    assertEquals("Q4_K_M", m.reference().toString());
  }

  @Test
  void aBlobAskedThereIsQualifiedToo() {
    RegistryRoute.Blob b = assertInstanceOf(RegistryRoute.Blob.class, router.route("/v2/user/model/blobs/" + BLOB, "MODELSCOPE.CN"));
    assertEquals("modelscope.cn/user/model", b.name().spelled(), "the host in lower case, whatever the request said");
    assertEquals(BLOB, b.digest().toString());
  }

  @Test
  void aRequestByNameOrToAHostWithoutItsOwnRegistryKeepsItsNameBare() {
    RegistryRoute.Manifest byName = assertInstanceOf(RegistryRoute.Manifest.class, router.route("/v2/library/qwen2.5/manifests/7b", null));
    assertEquals("library/qwen2.5", byName.name().spelled());
    RegistryRoute.Manifest ollama = assertInstanceOf(RegistryRoute.Manifest.class,
        router.route("/v2/library/qwen2.5/manifests/7b", "registry.ollama.ai"));
    assertEquals("library/qwen2.5", ollama.name().spelled(), "the default upstream's names stay as they are");
  }

  @Test
  void theBaseAndPathsOutsideTheRegistryApiAreNotQualified() {
    assertInstanceOf(RegistryRoute.Base.class, router.route("/v2/", "hf.co"));
    assertNull(router.route("/status", "hf.co"));
    assertNull(router.route("/status", null));
  }

  @Test
  void aNameThatIsTooLongOnceQualifiedIsRefusedAsAnInvalidName() {
    String path = "/v2/" + "a".repeat(125) + "/" + "b".repeat(125) + "/manifests/latest";
    assertInstanceOf(RegistryRoute.Manifest.class, router.route(path, null), "251 characters: a name");
    RegistryException e = assertThrows(RegistryException.class, () -> router.route(path, "hf.co"));
    assertEquals(ErrorCode.NAME_INVALID, e.code());
  }
}
