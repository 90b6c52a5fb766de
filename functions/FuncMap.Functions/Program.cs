using FuncMap.Functions.Hosting;
using FuncMap.Functions.Import;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// The Functions host of FuncMap: isolated worker with the ASP.NET Core integration (HTTP functions
// return IResult, errors are ProblemDetails), Durable Entities as the owners of the keys.
var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();

// Application Insights only where it is configured (in Azure; locally the console is enough).
if (!string.IsNullOrEmpty(builder.Configuration["APPLICATIONINSIGHTS_CONNECTION_STRING"]))
{
    builder.Services
        .AddApplicationInsightsTelemetryWorkerService()
        .ConfigureFunctionsApplicationInsights();
}

builder.Services.AddProblemDetails();
builder.Services.AddFuncMapFunctions(builder.Configuration);
builder.Services.AddFuncMapImport(builder.Configuration);

builder.Build().Run();
