"""The engine: graph, plan, scheduler, executor and the render run that ties them together."""
