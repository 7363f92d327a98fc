// Package gateway is Portico's data plane: the listener partners' API calls
// reach. It imports no gin, no gorm and nothing from the control plane; it
// runs on a self-contained configuration value handed to it.
//
// Until the routing engine lands, the gateway listener answers every request
// with a 404 problem, so clients and load balancers see a well-formed,
// honest answer rather than a closed port.
package gateway
