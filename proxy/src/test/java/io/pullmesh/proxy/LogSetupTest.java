package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.Test;

class LogSetupTest {
  private static LogRecord error(Throwable t) {
    LogRecord r = new LogRecord(Level.SEVERE, "x");
    r.setThrown(t);
    return r;
  }

  @Test
  void onlyClientHangUpsAreDemoted() {
    assertFalse(LogSetup.notAClientHangUp(error(new IOException("Broken pipe"))));
    assertFalse(LogSetup.notAClientHangUp(error(new IOException("Connection reset by peer"))));
    assertFalse(LogSetup.notAClientHangUp(error(new ClosedChannelException())));
    assertTrue(LogSetup.notAClientHangUp(error(new IOException("No space left on device"))));
    assertTrue(LogSetup.notAClientHangUp(error(new IllegalStateException("Broken pipe"))));
    assertTrue(LogSetup.notAClientHangUp(new LogRecord(Level.SEVERE, "no exception")));
  }
}
