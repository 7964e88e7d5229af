package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.util.Set;
import org.junit.jupiter.api.Test;

class UpstreamAccessTest {
  private static final URI HF = URI.create("https://hf.co");
  private final UpstreamAccess access = new UpstreamAccess("hf.co", Set.of("HuggingFace.co"), null, "hf_token");

  @Test
  void theRegistrysOwnOriginGetsItsAuthorization() {
    assertTrue(access.isOwn(HF, URI.create("https://hf.co/v2/x/blobs/sha256:1")));
    assertTrue(access.isOwn(HF, URI.create("https://HF.CO:443/v2/")), "host case and the default port do not matter");
  }

  @Test
  void anOwnHostGetsItOverTheRegistrysSchemeOnly() {
    assertTrue(access.isOwn(HF, URI.create("https://huggingface.co/x/resolve/1")));
    assertFalse(access.isOwn(HF, URI.create("http://huggingface.co/x/resolve/1")), "never in the clear");
  }

  @Test
  void aCdnOrAnotherPortNeverDoes() {
    assertFalse(access.isOwn(HF, URI.create("https://cdn-lfs.hf.co/x")));
    assertFalse(access.isOwn(HF, URI.create("https://hf.co:8443/v2/")));
    assertFalse(access.isOwn(HF, URI.create("mailto:a@b")));
  }
}
