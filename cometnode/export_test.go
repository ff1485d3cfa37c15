package cometnode

// SwitchHost lets the chain tests close the host of a node built without
// cometnode, which upstream's switch leaves open.
var SwitchHost = switchHost
