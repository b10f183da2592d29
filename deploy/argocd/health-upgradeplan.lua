-- Argo CD health check for cniupgrade.io/UpgradePlan (argocd-cm:
-- resource.customizations.health.cniupgrade.io_UpgradePlan). It reads the kstatus conditions the operator keeps.
local hs = {status = "Progressing", message = "Waiting for the operator"}
if obj.status == nil then
  return hs
end
if obj.status.observedGeneration == nil or obj.status.observedGeneration < obj.metadata.generation then
  hs.message = "Waiting for the operator to observe the latest spec"
  return hs
end
local conditions = {}
for _, condition in ipairs(obj.status.conditions or {}) do
  conditions[condition.type] = condition
end
local ready, stalled = conditions["Ready"], conditions["Stalled"]
local phase = obj.status.phase or ""
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
elseif stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message
elseif phase == "Paused" or phase == "AwaitingApproval" or phase == "Waiting" then
  hs.status = "Suspended"
  hs.message = (ready and ready.message) or phase
else
  hs.message = (ready and ready.message) or phase
end
return hs
