using FuncMap.Functions.Hosting;
using FuncMap.Functions.Import;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// The Functions host of FuncMap: isolated worker with the ASP.NET Core integration (HTTP functions
// return IResult, errors are ProblemDetails), Durable Entities as the owners of the keys.
var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();

// OpenTelemetry: Azure Monitor when APPLICATIONINSIGHTS_CONNECTION_STRING is set, OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is.
builder.AddFuncMapFunctionsTelemetry();

builder.Services.AddProblemDetails();
builder.Services.AddFuncMapFunctions(builder.Configuration);
builder.Services.AddFuncMapImport(builder.Configuration);

builder.Build().Run();
