package io.pullmesh.fetch;

import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.RegistryRoute;
import io.pullmesh.core.RepositoryName;
import java.util.Locale;
import java.util.Set;

/**
 * Which repository a registry API request names in pullmesh's namespace, from its path and the host it was made to. A
 * request by name ({@code /v2/library/qwen2.5/manifests/7b} to this node) names what its path says. A request made
 * through {@code HTTPS_PROXY} to a registry host that has a registry of its own here ({@code hf.co},
 * {@code modelscope.cn}) names its repository qualified by that host: {@code /v2/user/Repo/...} at hf.co is
 * {@code hf.co/user/Repo}, which {@link RegistryRouter} sends to that host's registry. A host without one
 * (registry.ollama.ai) keeps its names bare, for the default upstream. Pure; built from the router's hosts.
 *
 * <p>Not for choosing the upstream or its name there ({@link RegistryRouter} does, from the name this gives), nor for
 * deciding which hosts are intercepted at all.
 */
public final class NamespaceRouter {
  private final Set<String> registryHosts;

  /** @param registryHosts the registry hosts with a registry of their own here ({@link RegistryRouter#hosts()}) */
  public NamespaceRouter(Set<String> registryHosts) {
    this.registryHosts = registryHosts.stream().map(h -> h.toLowerCase(Locale.ROOT)).collect(java.util.stream.Collectors.toUnmodifiableSet());
  }

  /**
   * The route of a registry API request.
   *
   * @param path the request's path
   * @param host the host a request made through {@code HTTPS_PROXY} was made to, or null for a request by name
   * @return null when the path is not the registry API's
   * @throws RegistryException NAME_INVALID when the host-qualified name is not a valid repository name
   */
  public RegistryRoute route(String path, String host) {
    RegistryRoute route = RegistryRoute.parse(path);
    String qualifier = host == null ? null : host.toLowerCase(Locale.ROOT);
    if (route == null || qualifier == null || !registryHosts.contains(qualifier)) {
      return route;
    }
    try {
      if (route instanceof RegistryRoute.Manifest m) {
        return new RegistryRoute.Manifest(RepositoryName.parse(qualifier + "/" + m.name().spelled()), m.reference());
      }
      if (route instanceof RegistryRoute.Blob b) {
        return new RegistryRoute.Blob(RepositoryName.parse(qualifier + "/" + b.name().spelled()), b.digest());
      }
    } catch (IllegalArgumentException e) {
      throw new RegistryException(ErrorCode.NAME_INVALID, e.getMessage());
    }
    return route;
  }
}
