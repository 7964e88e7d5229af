package io.pullmesh.seeder;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A prefetch list: one model name per line; {@code #} starts a comment (a whole line or the end of one); blank
 * lines are ignored. Names are checked when they are pulled, so one bad line fails that model only.
 */
public final class ListFile {
  private ListFile() {}

  /** One name from the file, with the line it came from (for messages). */
  public record Entry(String name, int line) {}

  /** @throws IOException when the file cannot be read (the message names it) */
  public static List<Entry> read(Path file) throws IOException {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IOException("cannot read the list file " + file + ": " + describe(e), e);
    }
    return parse(lines);
  }

  static List<Entry> parse(List<String> lines) {
    List<Entry> out = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String l = lines.get(i);
      int hash = l.indexOf('#');
      if (hash >= 0) {
        l = l.substring(0, hash);
      }
      l = l.strip();
      if (!l.isEmpty()) {
        out.add(new Entry(l, i + 1));
      }
    }
    return out;
  }

  static String describe(IOException e) {
    if (e instanceof java.nio.file.NoSuchFileException) {
      return "no such file";
    }
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "permission denied";
    }
    return String.valueOf(e.getMessage());
  }
}
