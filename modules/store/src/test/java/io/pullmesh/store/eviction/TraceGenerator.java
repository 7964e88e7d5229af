package io.pullmesh.store.eviction;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Writes the synthetic access traces under {@code src/test/resources/traces}. They are not recordings of a
 * real office: they are drawn from the models below with fixed seeds, so the same files come out on every
 * machine and JDK ({@link Random} and {@link StrictMath} are specified bit for bit). {@code TraceFilesTest}
 * checks that the committed files are exactly what this class writes.
 *
 * <p>Common shape: 60 days starting on a Monday; 20 client machines ({@code pc01..pc20}); pulls during
 * working hours (08:00-19:00), a Poisson number per day (mean 40 on weekdays, 4 at weekends), each by a
 * uniformly chosen machine. A model is one weights blob (log-uniform size) and 2 to 5 small blobs (config,
 * template, and sometimes params, license, system; 50 bytes to 10 KB). Models share no blobs. Each line is a
 * pull that reached the mirror, i.e. one whose machine did not have the model.
 *
 * <ul>
 *   <li>{@code office-zipf}: 40 models of 0.5 to 9 GB; each pull picks a model by a Zipf law (exponent 1)
 *       over a random ranking, so popularity does not follow size.
 *   <li>{@code scan-pollution}: exactly the pulls of office-zipf, plus on about 70% of weekdays one pull of
 *       a big (4 to 9 GB) model that is never pulled again.
 *   <li>{@code shifting-popularity}: 16 models released before the trace and 24 released during it (one
 *       every ~2.3 days). A model's weight is its peak popularity (Zipf, exponent 1, random ranking) halved
 *       every 7 to 21 days since its release; each pull picks a released model by weight. Popular models
 *       fade and new ones take over.
 * </ul>
 *
 * <p>Run {@code main} with the output directory to rewrite the files (see docs/eviction.md).
 */
final class TraceGenerator {
  static final long DAY = 24L * 3600 * 1000;
  static final int DAYS = 60;
  static final int CLIENTS = 20;
  static final double GB = 1e9;

  /** Seed of the committed traces. */
  static final long SEED = 100;

  static final List<String> NAMES = List.of("office-zipf", "scan-pollution", "shifting-popularity");

  private TraceGenerator() {
  }

  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args.length > 0 ? args[0] : "modules/store/src/test/resources/traces");
    Files.createDirectories(dir);
    for (String name : NAMES) {
      Path file = dir.resolve(name + ".csv");
      Files.writeString(file, generate(name), StandardCharsets.UTF_8);
      System.out.println("wrote " + file);
    }
  }

  /** The committed trace {@code name}. */
  static String generate(String name) {
    return generate(name, SEED);
  }

  /**
   * The trace {@code name} drawn with another {@code seed}: same shape, different draw (the committed files
   * use {@link #SEED}). Used to check that conclusions do not hang on one draw.
   */
  static String generate(String name, long seed) {
    return switch (name) {
      case "office-zipf" -> render(name, officeZipfDescription(seed), officeZipf(seed));
      case "scan-pollution" -> render(name, scanDescription(seed), scanPollution(seed));
      case "shifting-popularity" -> render(name, shiftingDescription(seed), shifting(seed));
      default -> throw new IllegalArgumentException("unknown trace " + name);
    };
  }

  record Model(String name, List<String> blobs) {
  }

  record Pull(long time, long order, String client, Model model) {
  }

  // ---- the three traces ---------------------------------------------------------------------------------

  private static String officeZipfDescription(long seed) {
    return "40 models (0.5-9 GB weights, log-uniform); each pull picks a model by Zipf(1) over a random ranking.\n"
        + "seed " + seed + ": catalogue stream(seed, 1), ranking stream(seed, 2), pulls stream(seed, 3)";
  }

  static List<Pull> officeZipf(long seed) {
    List<Model> models = catalogue(stream(seed, 1), "m", 40, 0.5, 9);
    double[] weights = zipfWeights(stream(seed, 2), models.size(), 1.0);
    Random r = stream(seed, 3);
    List<Pull> pulls = new ArrayList<>();
    for (long t : pullTimes(r)) {
      pulls.add(new Pull(t, pulls.size(), client(r), models.get(pick(r, weights))));
    }
    return pulls;
  }

  private static String scanDescription(long seed) {
    return "the pulls of office-zipf, plus on ~70% of weekdays one pull of a 4-9 GB model never pulled again.\n"
        + "seed " + seed + ": office-zipf's draws, one-offs stream(seed, 4)";
  }

  static List<Pull> scanPollution(long seed) {
    List<Pull> pulls = new ArrayList<>(officeZipf(seed));
    Random r = stream(seed, 4);
    int n = 0;
    for (int day = 0; day < DAYS; day++) {
      if (!weekday(day) || r.nextDouble() >= 0.7) {
        continue;
      }
      n++;
      Model oneOff = model(r, String.format(Locale.ROOT, "x%02d", n), 4, 9);
      pulls.add(new Pull(day * DAY + workingHoursOffset(r), pulls.size(), client(r), oneOff));
    }
    return pulls;
  }

  private static String shiftingDescription(long seed) {
    return "16 models released before the trace, 24 during it; weight = Zipf(1) peak halved every 7-21 days\n"
        + "since release. seed " + seed + ": catalogue stream(seed, 11), releases stream(seed, 12), pulls stream(seed, 13)";
  }

  static List<Pull> shifting(long seed) {
    List<Model> models = catalogue(stream(seed, 11), "s", 40, 0.5, 9);
    Random rel = stream(seed, 12);
    double[] peak = zipfWeights(rel, models.size(), 1.0);
    double[] releaseDay = new double[models.size()];
    double[] halfLifeDays = new double[models.size()];
    for (int i = 0; i < models.size(); i++) {
      releaseDay[i] = i < 16 ? -40 * rel.nextDouble() : 2 + (i - 16) * 2.3 + rel.nextDouble();
      halfLifeDays[i] = 7 + 14 * rel.nextDouble();
    }
    Random r = stream(seed, 13);
    List<Pull> pulls = new ArrayList<>();
    double[] w = new double[models.size()];
    for (long t : pullTimes(r)) {
      double day = (double) t / DAY;
      for (int i = 0; i < w.length; i++) {
        w[i] = day < releaseDay[i] ? 0 : peak[i] * StrictMath.pow(2, -(day - releaseDay[i]) / halfLifeDays[i]);
      }
      pulls.add(new Pull(t, pulls.size(), client(r), models.get(pick(r, w))));
    }
    return pulls;
  }

  // ---- building blocks ----------------------------------------------------------------------------------

  static List<Model> catalogue(Random r, String prefix, int n, double minGb, double maxGb) {
    List<Model> models = new ArrayList<>();
    for (int i = 1; i <= n; i++) {
      models.add(model(r, String.format(Locale.ROOT, "%s%02d", prefix, i), minGb, maxGb));
    }
    return models;
  }

  static Model model(Random r, String name, double minGb, double maxGb) {
    List<String> blobs = new ArrayList<>();
    long weights = Math.round(minGb * GB * StrictMath.pow(maxGb / minGb, r.nextDouble()));
    blobs.add(name + "/weights:" + weights);
    blobs.add(name + "/config:" + between(r, 300, 700));
    blobs.add(name + "/template:" + between(r, 200, 2500));
    if (r.nextDouble() < 0.7) {
      blobs.add(name + "/params:" + between(r, 60, 400));
    }
    if (r.nextDouble() < 0.6) {
      blobs.add(name + "/license:" + between(r, 1000, 10000));
    }
    if (r.nextDouble() < 0.2) {
      blobs.add(name + "/system:" + between(r, 50, 800));
    }
    return new Model(name, List.copyOf(blobs));
  }

  /** Zipf weights 1/rank^s, with the ranks dealt to the models in random order. */
  static double[] zipfWeights(Random r, int n, double s) {
    int[] rank = new int[n];
    for (int i = 0; i < n; i++) {
      rank[i] = i + 1;
    }
    for (int i = n - 1; i > 0; i--) {
      int j = r.nextInt(i + 1);
      int tmp = rank[i];
      rank[i] = rank[j];
      rank[j] = tmp;
    }
    double[] w = new double[n];
    for (int i = 0; i < n; i++) {
      w[i] = 1 / StrictMath.pow(rank[i], s);
    }
    return w;
  }

  /** Pull times over {@link #DAYS} days, ascending. */
  static List<Long> pullTimes(Random r) {
    List<Long> times = new ArrayList<>();
    for (int day = 0; day < DAYS; day++) {
      int n = poisson(r, weekday(day) ? 40 : 4);
      List<Long> today = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        today.add(day * DAY + workingHoursOffset(r));
      }
      today.sort(null);
      times.addAll(today);
    }
    return times;
  }

  /**
   * An independent random stream for part {@code k} of the trace drawn with {@code seed}. The seed is mixed
   * (SplitMix64's finaliser) because {@link Random}s built on neighbouring seeds start out correlated.
   */
  static Random stream(long seed, int k) {
    long z = seed * 0x9E3779B97F4A7C15L + k * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return new Random(z ^ (z >>> 31));
  }

  static boolean weekday(int day) {
    return day % 7 < 5;
  }

  static long workingHoursOffset(Random r) {
    return 8 * 3600_000L + (long) (r.nextDouble() * 11 * 3600_000L);
  }

  static String client(Random r) {
    return String.format(Locale.ROOT, "pc%02d", 1 + r.nextInt(CLIENTS));
  }

  static int pick(Random r, double[] weights) {
    double total = 0;
    for (double w : weights) {
      total += w;
    }
    double x = r.nextDouble() * total;
    for (int i = 0; i < weights.length; i++) {
      x -= weights[i];
      if (x < 0) {
        return i;
      }
    }
    for (int i = weights.length - 1; i >= 0; i--) {
      if (weights[i] > 0) {
        return i;
      }
    }
    throw new IllegalStateException("no weight");
  }

  static int poisson(Random r, double mean) {
    double limit = StrictMath.exp(-mean);
    double p = 1;
    int k = 0;
    do {
      k++;
      p *= r.nextDouble();
    } while (p > limit);
    return k - 1;
  }

  static long between(Random r, int lo, int hi) {
    return lo + r.nextInt(hi - lo + 1);
  }

  static String render(String name, String description, List<Pull> pulls) {
    List<Pull> sorted = new ArrayList<>(pulls);
    sorted.sort(Comparator.comparingLong(Pull::time).thenComparingLong(Pull::order));
    StringBuilder b = new StringBuilder();
    b.append("# pullmesh access trace '").append(name).append("': SYNTHETIC, not recorded from a real office.\n");
    b.append("# Generated by io.pullmesh.store.eviction.TraceGenerator (modules/store/src/test/java); see docs/eviction.md.\n");
    for (String line : description.split("\n")) {
      b.append("# ").append(line).append('\n');
    }
    b.append("# 60 days from a Monday 00:00, 20 machines, pulls in working hours (Poisson, mean 40/weekday, 4/weekend day).\n");
    b.append("# One line per pull that reached the mirror: time_ms since the start, client, model,\n");
    b.append("# and every blob the pull fetched as name:size_bytes, space-separated (weights first).\n");
    b.append(Trace.HEADER).append('\n');
    for (Pull p : sorted) {
      b.append(p.time()).append(',').append(p.client()).append(',').append(p.model().name()).append(',')
          .append(String.join(" ", p.model().blobs())).append('\n');
    }
    return b.toString();
  }
}
