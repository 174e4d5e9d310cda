@echo off
rem Installs Mellanox WinOF-2 2.22, the driver for ConnectX-4 and newer
rem virtual functions on SR-IOV sizes, without any user interface. One build
rem serves every supported Windows release.
rem /S silences the InstallShield wrapper; /v hands "/qn /norestart" to
rem msiexec: no UI, and no reboot of its own (the caller learns of a pending
rem reboot from exit code 3010 and decides). Exit codes: 0 done, 3010 or
rem 1641 done but a reboot is needed, anything else failed.
rem A demo bundle carries demo-standin.cmd, which runs instead of the vendor
rem installer.
setlocal
cd /d "%~dp0" || exit /b 1
set "PROGRAM=MLNX_WinOF2-2_22_50000_All_x64.exe"
set ARGS=/S /v"/qn /norestart"
if exist demo-standin.cmd goto demo
"%PROGRAM%" %ARGS%
exit /b %ERRORLEVEL%
:demo
call demo-standin.cmd winof2 2.22.50000
exit /b %ERRORLEVEL%
