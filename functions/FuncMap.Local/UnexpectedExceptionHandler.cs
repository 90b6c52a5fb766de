using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace FuncMap.Local;

/// <summary>
/// The last line: an exception no endpoint handled becomes a 500 ProblemDetails without any detail of
/// the exception (it is logged and counted instead). A transport-level malformed request
/// (<see cref="BadHttpRequestException"/>) keeps its 4xx status. Bad input is rejected by the handlers
/// with a 4xx long before this; the tests assert that it never gets here.
/// </summary>
internal sealed class UnexpectedExceptionHandler(
    IProblemDetailsService problemDetails,
    HttpMetrics metrics,
    ILogger<UnexpectedExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var request = httpContext.Request;
        int status;
        string title;
        if (exception is BadHttpRequestException bad && bad.StatusCode is >= 400 and < 500)
        {
            status = bad.StatusCode;
            title = "The request is malformed.";
            Log.BadRequest(logger, exception, request.Method, request.Path, status);
        }
        else
        {
            status = StatusCodes.Status500InternalServerError;
            title = "An unexpected error occurred.";
            metrics.Unexpected();
            Log.UnexpectedError(logger, exception, request.Method, request.Path);
        }

        httpContext.Response.StatusCode = status;
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = new ProblemDetails { Status = status, Title = title },
        });
    }
}
