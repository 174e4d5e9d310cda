@echo off
rem Demo stand-in for a vendor driver installer. It is synthetic: it installs
rem nothing, it records what the real installer would have been asked to do
rem and exits the way that installer would: 0, or 3010 (done, reboot
rem required) when IBDRV_DEMO_REBOOT=1.
rem
rem Usage: demo-standin.cmd KIND VERSION, with PROGRAM and ARGS set to the
rem real command line by install.cmd.
rem The record is %IBDRV_ROOT%\ProgramData\ibdrv-demo\installed-KIND-VERSION
rem (%ProgramData%\ibdrv-demo\... when IBDRV_ROOT is not set). It holds no
rem date, so the same run always writes the same bytes.
setlocal
if defined IBDRV_ROOT (set "DEST=%IBDRV_ROOT%\ProgramData\ibdrv-demo") else (set "DEST=%ProgramData%\ibdrv-demo")
set "DEST=%DEST:/=\%"
set "RECORD=%DEST%\installed-%~1-%~2"
if not exist "%DEST%\" mkdir "%DEST%" || exit /b 1
rem Delayed expansion prints the quotes in ARGS as they are.
setlocal EnableDelayedExpansion
> "%RECORD%.tmp" (
	echo driver: %~1 %~2
	echo command: !PROGRAM! !ARGS!
) || exit /b 1
endlocal
move /y "%RECORD%.tmp" "%RECORD%" > nul || exit /b 1
echo ibdrv-demo: recorded %RECORD%
if "%IBDRV_DEMO_REBOOT%"=="1" exit /b 3010
exit /b 0
