package io.pullmesh.loadtest;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

final class Stats {
  private Stats() {}

  /** The median (mean of the middle two for an even count); NaN when empty. */
  static double median(Collection<Double> values) {
    List<Double> v = new ArrayList<>();
    for (Double d : values) {
      if (d != null && !d.isNaN()) {
        v.add(d);
      }
    }
    if (v.isEmpty()) {
      return Double.NaN;
    }
    v.sort(Double::compare);
    int n = v.size();
    return n % 2 == 1 ? v.get(n / 2) : (v.get(n / 2 - 1) + v.get(n / 2)) / 2;
  }

  static double min(Collection<Double> values) {
    return values.stream().filter(d -> !d.isNaN()).mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
  }

  static double max(Collection<Double> values) {
    return values.stream().filter(d -> !d.isNaN()).mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
  }
}
