package io.pullmesh.testkit.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.fault.Fault;
import io.pullmesh.testkit.fault.FaultRule;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Open and peak CDN connections are counted, and stop() ends even stalled responses. */
class ConnectionCountTest {
  @TempDir
  Path dir;

  @Test
  void peakCountsConnectionsOpenAtOnceAndStopClosesStalledOnes() throws Exception {
    FakeModel model = ModelFixture.of("library/tiny", "latest").layer(MediaTypes.MODEL, 100_000).create(dir);
    try (FakeRegistry registry = FakeRegistry.start(model)) {
      registry.cdnFaults().add(FaultRule.always(Fault.stallAfter(10)));
      List<Socket> sockets = new ArrayList<>();
      try {
        for (int i = 0; i < 3; i++) {
          URI url = URI.create(registry.signedCdnUrl(model.largestLayer().digest()));
          Socket s = new Socket(url.getHost(), url.getPort());
          sockets.add(s);
          OutputStream out = s.getOutputStream();
          out.write(("GET " + url.getRawPath() + "?" + url.getRawQuery() + " HTTP/1.1\r\nHost: " + url.getAuthority()
              + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
          out.flush();
          BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1));
          assertEquals("HTTP/1.1 200 OK", in.readLine());
        }
        // All three have their response headers: all three connections are open at once.
        assertEquals(3, registry.stats().openCdnConnections());
        assertEquals(3, registry.stats().peakCdnConnections());
        registry.stop();
        for (Socket s : sockets) {
          s.setSoTimeout(5_000);
          java.io.InputStream in = s.getInputStream();
          while (in.read() >= 0) {
            // drain until the server's close
          }
        }
      } finally {
        for (Socket s : sockets) {
          s.close();
        }
      }
      assertTrue(registry.stats().peakCdnConnections() >= 3);
    }
  }
}
