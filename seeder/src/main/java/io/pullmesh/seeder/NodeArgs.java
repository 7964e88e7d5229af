package io.pullmesh.seeder;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The arguments of a command that starts a node, split three ways: the command's own options ({@code --list},
 * {@code --every}, ...), its operands (model names), and everything else, which goes to the proxy's configuration
 * parser unchanged. Every proxy option takes a value ({@code --opt VALUE} or {@code --opt=VALUE}).
 */
final class NodeArgs {
  final Map<String, String> own = new LinkedHashMap<>();
  final List<String> operands = new ArrayList<>();
  final List<String> proxyArgs = new ArrayList<>();
  boolean help;

  /** Proxy flags this command's parsing must see (was --listen set on the command line?). */
  boolean hasProxyOption(String name) {
    for (String a : proxyArgs) {
      if (a.equals("--" + name) || a.startsWith("--" + name + "=")) {
        return true;
      }
    }
    return false;
  }

  /** @param ownOptions option names without {@code --}, each taking a value */
  static NodeArgs split(String[] args, Set<String> ownOptions) throws UsageException {
    NodeArgs n = new NodeArgs();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--help") || a.equals("-h")) {
        n.help = true;
        continue;
      }
      if (!a.startsWith("--")) {
        n.operands.add(a);
        continue;
      }
      String name = a.substring(2);
      String value = null;
      int eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.substring(eq + 1);
        name = name.substring(0, eq);
      }
      if (ownOptions.contains(name)) {
        if (value == null) {
          if (i + 1 >= args.length || args[i + 1].startsWith("--")) {
            throw new UsageException("--" + name + " needs a value");
          }
          value = args[++i];
        }
        if (n.own.put(name, value) != null) {
          throw new UsageException("--" + name + " given twice");
        }
        continue;
      }
      n.proxyArgs.add(a);
      if (value == null && i + 1 < args.length && !args[i + 1].startsWith("--")) {
        n.proxyArgs.add(args[++i]);
      }
    }
    return n;
  }
}
