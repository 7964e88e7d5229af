/**
 * Fault injection for the fake registry and CDN. A {@link io.pullmesh.testkit.fault.Fault} says what goes
 * wrong with one response; a {@link io.pullmesh.testkit.fault.FaultRule} says to which requests (the next N,
 * or all; optionally only one digest; GET only unless told otherwise); a {@link
 * io.pullmesh.testkit.fault.FaultPlan} holds the rules of one server and is safe to change from a test thread
 * while the server runs.
 *
 * <pre>{@code
 * registry.cdnFaults().add(FaultRule.next(3, Fault.status(503)));
 * registry.cdnFaults().add(FaultRule.always(Fault.dropAfter(100_000)).forDigest(blob.digest()));
 * }</pre>
 */
package io.pullmesh.testkit.fault;
