package io.pullmesh.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Sha256Test {
  @TempDir Path dir;

  private FileChannel file(String content) throws IOException {
    Path f = dir.resolve("f");
    Files.writeString(f, content);
    return FileChannel.open(f, StandardOpenOption.READ);
  }

  @Test
  void aRangeHashesLikeItsBytesThroughABufferSmallerThanTheRange() throws IOException {
    try (FileChannel ch = file("0123456789abcdef")) {
      AtomicLong read = new AtomicLong();
      Digest d = Sha256.ofRange(ch, 3, 10, ByteBuffer.allocate(4), read::addAndGet);
      assertEquals(Digest.of("3456789abc".getBytes(StandardCharsets.US_ASCII)), d);
      assertEquals(10, read.get());
    }
  }

  @Test
  void updatesOverConsecutiveRangesHashLikeTheWhole() throws IOException {
    try (FileChannel ch = file("0123456789abcdef")) {
      MessageDigest sha = Sha256.newDigest();
      Sha256.update(sha, ch, 0, 5, ByteBuffer.allocate(3), n -> {});
      Sha256.update(sha, ch, 5, 16, ByteBuffer.allocate(3), n -> {});
      assertEquals(Digest.of("0123456789abcdef".getBytes(StandardCharsets.US_ASCII)), Digest.ofBytes(sha.digest()));
    }
  }

  @Test
  void aRangePastTheEndOfTheFileIsAnError() throws IOException {
    try (FileChannel ch = file("0123")) {
      IOException e = assertThrows(IOException.class, () -> Sha256.ofRange(ch, 2, 5, ByteBuffer.allocate(8), n -> {}));
      assertEquals("the file ends at 4, before 7", e.getMessage());
    }
  }

  @Test
  void aDigestGivesBackTheBytesItWasMadeOf() {
    Digest d = Digest.of(new byte[] {1, 2, 3});
    assertEquals(d, Digest.ofBytes(d.bytes()));
  }
}
