package io.pullmesh.fetch;

import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.RepositoryName;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The routing table of the upstreams a node is configured with: a name qualified by a registry host
 * ({@code hf.co/bartowski/Tiny-GGUF}) goes to that host's registry under the name without the host; a name in a
 * namespace given its own registry ({@code corp/llama}) goes there, under the namespace it maps to; everything else goes
 * to the main upstream unchanged. Names go on as the client spelled them. A pure table, built once; it neither creates
 * nor closes the registries it routes to.
 */
public final class RegistryRouter implements UpstreamRouter {
  private record ByNamespace(UpstreamRegistry upstream, String remoteNamespace) {}

  private final UpstreamRegistry main;
  private final Map<String, ByNamespace> namespaces;
  private final Map<String, UpstreamRegistry> hosts;

  private RegistryRouter(UpstreamRegistry main, Map<String, ByNamespace> namespaces, Map<String, UpstreamRegistry> hosts) {
    this.main = main;
    this.namespaces = Map.copyOf(namespaces);
    this.hosts = Map.copyOf(hosts);
  }

  public static Builder builder(UpstreamRegistry main) {
    return new Builder(main);
  }

  /**
   * @throws RegistryException NAME_UNKNOWN for a name qualified by a host no registry is configured for
   */
  @Override
  public Route route(RepositoryName repository) {
    String host = repository.host();
    if (host != null) {
      UpstreamRegistry u = hosts.get(host);
      if (u == null) {
        throw new RegistryException(ErrorCode.NAME_UNKNOWN, "pullmesh has no upstream for the registry host " + host + " of "
            + repository.spelled() + " (add --upstreams " + host + "=https://" + host + ")");
      }
      return new Route(u, repository.withoutHost());
    }
    String spelled = repository.spelled();
    int slash = spelled.indexOf('/');
    ByNamespace n = slash < 0 ? null : namespaces.get(spelled.substring(0, slash).toLowerCase(Locale.ROOT));
    if (n == null) {
      return new Route(main, repository);
    }
    return new Route(n.upstream(), n.remoteNamespace() == null ? repository : RepositoryName.parse(n.remoteNamespace() + spelled.substring(slash)));
  }

  /** Whether requests for {@code host} (intercepted through HTTPS_PROXY) have a registry of their own here. */
  public boolean routesHost(String host) {
    return host != null && hosts.containsKey(host.toLowerCase(Locale.ROOT));
  }

  /** The registry hosts routed, lower case. */
  public Set<String> hosts() {
    return hosts.keySet();
  }

  /** Builds a {@link RegistryRouter}; not thread-safe. */
  public static final class Builder {
    private final UpstreamRegistry main;
    private final Map<String, ByNamespace> namespaces = new HashMap<>();
    private final Map<String, UpstreamRegistry> hosts = new HashMap<>();

    private Builder(UpstreamRegistry main) {
      this.main = main;
    }

    /** {@code namespace/<model>} from {@code upstream}, as {@code remoteNamespace/<model>} (null: unchanged). */
    public Builder namespace(String namespace, UpstreamRegistry upstream, String remoteNamespace) {
      namespaces.put(namespace.toLowerCase(Locale.ROOT), new ByNamespace(upstream, remoteNamespace));
      return this;
    }

    /** {@code host/<name>} from {@code upstream}, as {@code <name>}. */
    public Builder host(String host, UpstreamRegistry upstream) {
      hosts.put(host.toLowerCase(Locale.ROOT), upstream);
      return this;
    }

    public RegistryRouter build() {
      return new RegistryRouter(main, namespaces, hosts);
    }
  }
}
