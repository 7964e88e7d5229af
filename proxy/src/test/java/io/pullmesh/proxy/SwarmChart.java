package io.pullmesh.proxy;

import java.util.List;
import java.util.Locale;

/**
 * Draws {@link MeshSwarmIT}'s measurements as an SVG: T(N)/T(1) against N, with the 1.5 target and the star's
 * N-1 for comparison, and each point's WAN bytes over the model's. Text only; it measures nothing.
 */
final class SwarmChart {
  private SwarmChart() {}

  /** One measurement: N nodes at once, T(N)/T(1), WAN bytes / model bytes. */
  record Point(int n, double ratio, double wan) {}

  static String svg(List<Point> points, int mbit, long modelMiB, double t1) {
    int w = 700;
    int h = 400;
    int left = 60;
    int right = 40;
    int top = 50;
    int bottom = 60;
    int maxN = Math.max(8, points.stream().mapToInt(Point::n).max().orElse(8));
    double maxY = Math.max(4, Math.ceil(points.stream().mapToDouble(Point::ratio).max().orElse(1) + 0.5));
    StringBuilder s = new StringBuilder();
    s.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
        + "font-size=\"12\">%n", w, h));
    s.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", w, h));
    s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"20\" font-size=\"14\" font-weight=\"bold\">pullmesh mesh: N nodes pulling one cold "
        + "%d MiB model at once</text>%n", left, modelMiB));
    s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"36\">WAN and each node's uplink %d Mbit/s (tc), fastest T(1) %.2f s; "
        + "points: T(N)/T(1) (WAN bytes / model)</text>%n", left, mbit, t1));
    int pw = w - left - right;
    int ph = h - top - bottom;
    java.util.function.DoubleUnaryOperator x = n -> left + (n - 1) * pw / (double) (maxN - 1);
    java.util.function.DoubleUnaryOperator y = r -> top + ph - r * ph / maxY;
    for (int i = 0; i <= maxY; i++) {
      s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>%n", left, y.applyAsDouble(i),
          left + pw, y.applyAsDouble(i)));
      s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d</text>%n", left - 6, y.applyAsDouble(i) + 4, i));
    }
    for (int n = 1; n <= maxN; n++) {
      s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>%n", x.applyAsDouble(n), top + ph + 18, n));
    }
    s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">N, nodes pulling at once</text>%n", left + pw / 2,
        top + ph + 40));
    s.append(String.format(Locale.ROOT, "<text transform=\"translate(16,%d) rotate(-90)\" text-anchor=\"middle\">T(N) / T(1)</text>%n",
        top + ph / 2));
    // the star: every other node streams the model from the fetcher's uplink, as wide as the WAN
    double starEnd = Math.min(maxN, maxY + 1);
    s.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#c33\" stroke-dasharray=\"6,4\"/>%n",
        x.applyAsDouble(2), y.applyAsDouble(1), x.applyAsDouble(starEnd), y.applyAsDouble(starEnd - 1)));
    s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#c33\" text-anchor=\"end\">a star: N-1</text>%n",
        x.applyAsDouble(starEnd) - 8, y.applyAsDouble(starEnd - 1) + 4));
    s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#393\" stroke-dasharray=\"2,3\"/>%n", left,
        y.applyAsDouble(1.5), left + pw, y.applyAsDouble(1.5)));
    s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" fill=\"#393\" text-anchor=\"end\">target 1.5</text>%n", left + pw,
        y.applyAsDouble(1.5) - 4));
    StringBuilder path = new StringBuilder();
    for (Point p : points) {
      path.append(path.length() == 0 ? "M" : " L").append(String.format(Locale.ROOT, "%.1f %.1f", x.applyAsDouble(p.n()), y.applyAsDouble(p.ratio())));
    }
    s.append("<path d=\"").append(path).append("\" fill=\"none\" stroke=\"#236\" stroke-width=\"2\"/>\n");
    for (Point p : points) {
      s.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#236\"/>%n", x.applyAsDouble(p.n()), y.applyAsDouble(p.ratio())));
      String anchor = p.n() == 1 ? "start" : p.n() == maxN ? "end" : "middle";
      s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">%.2f (WAN %.3fx)</text>%n", x.applyAsDouble(p.n()),
          y.applyAsDouble(p.ratio()) - 10, anchor, p.ratio(), p.wan()));
    }
    s.append("</svg>\n");
    return s.toString();
  }
}
