package io.pullmesh.proxy.cli;

import java.util.ArrayList;
import java.util.List;

/**
 * Columns aligned with two spaces between them. A header starting with {@code >} is a right-aligned (numeric)
 * column; the {@code >} is not printed.
 */
final class Table {
  private final String[] header;
  private final boolean[] right;
  private final List<String[]> rows = new ArrayList<>();

  Table(String... header) {
    this.header = new String[header.length];
    this.right = new boolean[header.length];
    for (int i = 0; i < header.length; i++) {
      right[i] = header[i].startsWith(">");
      this.header[i] = right[i] ? header[i].substring(1) : header[i];
    }
  }

  Table row(Object... cells) {
    if (cells.length != header.length) {
      throw new IllegalArgumentException(cells.length + " cells for " + header.length + " columns");
    }
    String[] r = new String[cells.length];
    for (int i = 0; i < cells.length; i++) {
      r[i] = cells[i] == null ? "-" : cells[i].toString();
    }
    rows.add(r);
    return this;
  }

  boolean isEmpty() {
    return rows.isEmpty();
  }

  String render() {
    int[] width = new int[header.length];
    for (int i = 0; i < header.length; i++) {
      width[i] = header[i].length();
      for (String[] r : rows) {
        width[i] = Math.max(width[i], r[i].length());
      }
    }
    StringBuilder b = new StringBuilder();
    line(b, header, width);
    for (String[] r : rows) {
      line(b, r, width);
    }
    return b.toString();
  }

  private void line(StringBuilder b, String[] cells, int[] width) {
    StringBuilder l = new StringBuilder();
    for (int i = 0; i < cells.length; i++) {
      if (i > 0) {
        l.append("  ");
      }
      String pad = " ".repeat(width[i] - cells[i].length());
      l.append(right[i] ? pad + cells[i] : cells[i] + pad);
    }
    b.append(l.toString().stripTrailing()).append('\n');
  }
}
