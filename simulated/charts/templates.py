"""The test chart's templates, each a function of the chart version (None: not in that version)."""
from __future__ import annotations


def _image(key: str) -> str:
    v = f".Values.{key}.image"
    return (f'{{{{ .Values.global.imageRegistryOverride | default {v}.registry }}}}/{{{{ {v}.repository }}}}:'
            f'{{{{ {v}.tag | default (printf "v%s" .Chart.AppVersion) }}}}')


def _new(version: str) -> bool:
    return version != "0.9.5"


LABELS = "app.kubernetes.io/name: spiderpool"


def daemonset(version: str) -> str:
    multus = (f"""        - name: multus-cni
          image: "{_image('spiderpoolAgent')}"
          command: ["/home/entrypoint.sh"]
          env:
            - {{name: MULTUS_CLUSTER_NETWORK, value: spiderpool-default}}
            - {{name: MULTUS_NAMESPACE, value: "{{{{ .Release.Namespace }}}}"}}
""" if _new(version) else f"""        - name: multus-cni
          image: "{_image('multus')}"
          command: ["/thin_entrypoint"]
""")
    install_multus = f"""        - name: install-multus-binary
          image: "{_image('spiderpoolAgent')}"
          command: ["/home/install-multus.sh"]
""" if _new(version) else ""
    extra_env = "            - {name: SPIDERPOOL_ENABLED_RELEASE_CONFLICT_IPS, value: \"true\"}\n" if _new(version) else ""
    if version == "1.2.2":
        extra_env += "            - {name: SPIDERPOOL_GC_BY_NODE, value: \"true\"}\n"
    return f"""apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: spiderpool-agent
  namespace: {{{{ .Release.Namespace }}}}
  labels: {{{LABELS}, app.kubernetes.io/component: spiderpool-agent}}
spec:
  selector:
    matchLabels: {{{LABELS}, app.kubernetes.io/component: spiderpool-agent}}
  updateStrategy: {{{{ toJson .Values.spiderpoolAgent.updateStrategy }}}}
  template:
    metadata:
      labels: {{{LABELS}, app.kubernetes.io/component: spiderpool-agent}}
    spec:
      hostNetwork: true
      serviceAccountName: spiderpool-agent
      tolerations: [{{operator: Exists}}]
      initContainers:
        - name: install-plugins
          image: "{_image('plugins')}"
          env:
            - {{name: INSTALL_CNI_PLUGINS, value: "true"}}
{install_multus}      containers:
        - name: spiderpool-agent
          image: "{_image('spiderpoolAgent')}"
          command: ["/usr/bin/spiderpool-agent"]
          env:
            - {{name: SPIDERPOOL_POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
{extra_env}{multus}"""


def deployment(version: str) -> str:
    extra_env = "            - {name: SPIDERPOOL_MULTUS_CONFIG_INFORMER_RESYNC_PERIOD, value: \"60\"}\n" \
        if _new(version) else ""
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: spiderpool-controller
  namespace: {{{{ .Release.Namespace }}}}
  labels: {{{LABELS}, app.kubernetes.io/component: spiderpool-controller}}
spec:
  replicas: {{{{ .Values.spiderpoolController.replicas }}}}
  selector:
    matchLabels: {{{LABELS}, app.kubernetes.io/component: spiderpool-controller}}
  template:
    metadata:
      labels: {{{LABELS}, app.kubernetes.io/component: spiderpool-controller}}
    spec:
      hostNetwork: true
      serviceAccountName: spiderpool-controller
      tolerations: [{{operator: Exists}}]
      containers:
        - name: spiderpool-controller
          image: "{_image('spiderpoolController')}"
          command: ["/usr/bin/spiderpool-controller"]
          env:
            - {{name: SPIDERPOOL_GC_STATELESS_POD_IP_ENABLED, value: "true"}}
{extra_env}"""


def rbac(version: str) -> str:
    rules = ["{apiGroups: [\"\"], resources: [pods, nodes, namespaces, configmaps], verbs: [get, list, watch]}",
             "{apiGroups: [spiderpool.spidernet.io], resources: [spiderippools, spiderendpoints], "
             "verbs: [get, list, watch, update, patch]}"]
    if _new(version):  # 1.0.0 adds rules (the vendor's adds 13)
        rules += ["{apiGroups: [\"\"], resources: [pods/status], verbs: [update, patch]}",
                  "{apiGroups: [k8s.cni.cncf.io], resources: [network-attachment-definitions], "
                  "verbs: [get, list, watch, create, update, delete]}",
                  "{apiGroups: [spiderpool.spidernet.io], resources: [spidercoordinators, spidermultusconfigs], "
                  "verbs: [get, list, watch, update, patch]}"]
    body = "\n".join(f"  - {r}" for r in rules)
    accounts = "\n".join(f"""---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: {name}, namespace: "{{{{ .Release.Namespace }}}}"}}""" for name in ("spiderpool-agent", "spiderpool-controller"))
    return f"""apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: spiderpool-{{{{ .Release.Namespace }}}}
rules:
{body}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: spiderpool-{{{{ .Release.Namespace }}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "spiderpool-{{{{ .Release.Namespace }}}}"}}
subjects:
  - {{kind: ServiceAccount, name: spiderpool-agent, namespace: "{{{{ .Release.Namespace }}}}"}}
  - {{kind: ServiceAccount, name: spiderpool-controller, namespace: "{{{{ .Release.Namespace }}}}"}}
{accounts}
"""


def configmap(version: str) -> str:
    subnet = ".Values.ipam.spiderSubnet.enable" if _new(version) else ".Values.ipam.enableSpiderSubnet"
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: spiderpool-conf
  namespace: {{{{ .Release.Namespace }}}}
data:
  conf.yml: |
    enableSpiderSubnet: {{{{ {subnet} }}}}
"""


def multus_entrypoint(version: str) -> str | None:
    if not _new(version):
        return None
    return """apiVersion: v1
kind: ConfigMap
metadata:
  name: spiderpool-multus-entrypoint
  namespace: {{ .Release.Namespace }}
data:
  entrypoint.sh: |
    #!/bin/sh
    exec /usr/src/multus-cni/bin/multus-daemon
"""


TEMPLATES = {"daemonset.yaml": daemonset, "deployment.yaml": deployment, "rbac.yaml": rbac,
             "configmap.yaml": configmap, "multus-entrypoint.yaml": multus_entrypoint}
