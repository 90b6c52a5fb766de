using FuncMap.Http;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace FuncMap.Local;

/// <summary>
/// The last line: an exception no endpoint handled becomes a 500 ProblemDetails without any detail of
/// the exception (it is logged and counted instead). A transport-level malformed request
/// (<see cref="BadHttpRequestException"/>) keeps its 4xx status and gets the contract's ProblemDetails for it
/// (<see cref="CounterProblems.ForStatus"/>). Bad input is rejected by the handlers with a 4xx long before this; the
/// tests assert that it never gets here.
/// </summary>
internal sealed class UnexpectedExceptionHandler(
    IProblemDetailsService problemDetails,
    HttpMetrics metrics,
    IOptions<FuncMapHttpOptions> http,
    ILogger<UnexpectedExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var request = httpContext.Request;
        if (exception is BadHttpRequestException bad && bad.StatusCode is >= 400 and < 500)
        {
            // The contract's ProblemDetails for the status, with its rule (408 body.timeout, 413 body.size, ...).
            Log.BadRequest(logger, exception, request.Method, request.Path, bad.StatusCode);
            if (bad.StatusCode == StatusCodes.Status408RequestTimeout)
            {
                RequestBody.CloseConnection(httpContext.Response);
            }

            await CounterProblems.ForStatus(bad.StatusCode, request.Method, request.Path, http.Value.MaxBodyBytes).ExecuteAsync(httpContext);
            return true;
        }

        const int status = StatusCodes.Status500InternalServerError;
        const string title = "An unexpected error occurred.";
        metrics.Unexpected();
        Log.UnexpectedError(logger, exception, request.Method, request.Path);
        httpContext.Response.StatusCode = status;
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = new ProblemDetails { Status = status, Title = title },
        });
    }
}
